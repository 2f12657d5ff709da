package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/semaphore"
	"golang.org/x/sync/singleflight"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/cache"
	authenticationclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/lru"
)

// Errors an Authenticator returns, wrapped. Any other error means the
// decision could not be made (the API server did not answer): the request
// is answered 503, to be retried.
var (
	ErrUnauthenticated = errors.New("unauthenticated")
	ErrForbidden       = errors.New("forbidden")
	// ErrThrottled means the decision was not even attempted because the
	// gateway is saturated: answered 429 with a Retry-After.
	ErrThrottled = errors.New("throttled")
)

// Authenticator decides whether a request may post signals to its path.
type Authenticator interface {
	Authenticate(r *http.Request) error
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(r *http.Request) error

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(r *http.Request) error { return f(r) }

var (
	_ Authenticator = AuthenticatorFunc(nil)
	_ Authenticator = (*TokenReviewAuthenticator)(nil)
)

// AllowAll lets every request through: --auth=none, for local use.
var AllowAll Authenticator = AuthenticatorFunc(func(*http.Request) error { return nil })

// DefaultAudience is the audience a sender's token must be issued for
// unless TokenReviewOptions.Audiences says otherwise: a projected
// ServiceAccount token requested with `audience: rrguard-gateway`. A token
// for the API server's own audience is refused, so a token captured from a
// sender is no credential for the cluster, and a cluster credential is none
// for the gateway.
const DefaultAudience = "rrguard-gateway"

// DefaultMaxInFlightReviews is how many TokenReviews may be in flight at
// once by default.
const DefaultMaxInFlightReviews = 8

// TokenReviewOptions configure a TokenReviewAuthenticator. The zero value
// of every field means its default.
type TokenReviewOptions struct {
	// Audiences are the TokenReview's spec.audiences: the token must be
	// bound to one of them. Defaults to [DefaultAudience].
	Audiences []string
	// MaxInFlightReviews bounds the TokenReviews in flight at once. A
	// quarter of them (at least one) is kept for tokens the API server
	// has accepted before and whose cached answer has expired, which wait
	// for a slot; a token never accepted gets one of the others or, when
	// they are all busy, ErrThrottled at once, without waiting. So a flood
	// of bad tokens costs at most that many API calls at a time, and never
	// delays a known sender's re-review. Defaults to
	// DefaultMaxInFlightReviews; at least 2.
	MaxInFlightReviews int
	// CacheTTL is how long an accepted token, and an access granted, are
	// trusted without asking again: how long a revoked token still works.
	// A token is trusted no longer than it lives either: its answer is
	// cached until the earlier of CacheTTL and the token's expiry (its
	// exp claim). Defaults to 2m, kube-apiserver's webhook token
	// authenticator's.
	CacheTTL time.Duration
	// CacheSize bounds the accepted tokens remembered. Only tokens the API
	// server accepted enter it, so bad tokens can neither fill it nor
	// evict a sender's. Defaults to 1024.
	CacheSize int
	// NegativeCacheTTL is how long a refused token, and an access denied,
	// are remembered, so that a misconfigured sender's retries cost one
	// review per TTL. Defaults to 10s.
	NegativeCacheTTL time.Duration
	// NegativeCacheSize bounds the refused tokens remembered; random
	// tokens churn only this cache. Defaults to 256.
	NegativeCacheSize int
	// Timeout bounds each review. Defaults to 5s.
	Timeout time.Duration
	// Metrics, when set, count the reviews and the throttled requests.
	Metrics *Metrics
	// Clock tells the time the accepted tokens' answers are held to.
	// Defaults to the real clock.
	Clock clock.PassiveClock
}

func (o *TokenReviewOptions) setDefaults() {
	if len(o.Audiences) == 0 {
		o.Audiences = []string{DefaultAudience}
	}
	if o.MaxInFlightReviews <= 0 {
		o.MaxInFlightReviews = DefaultMaxInFlightReviews
	}
	o.MaxInFlightReviews = max(o.MaxInFlightReviews, 2)
	if o.CacheTTL <= 0 {
		o.CacheTTL = 2 * time.Minute
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 1024
	}
	if o.NegativeCacheTTL <= 0 {
		o.NegativeCacheTTL = 10 * time.Second
	}
	if o.NegativeCacheSize <= 0 {
		o.NegativeCacheSize = 256
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
}

// TokenReviewAuthenticator checks a Bearer token with a TokenReview bound
// to the gateway's audiences, then asks a SubjectAccessReview whether its
// user may "post" to the request's non-resource URL, the way the API server
// authorizes its own /healthz or /metrics. Grant it with RBAC:
//
//	rules:
//	- nonResourceURLs: ["/api/v1/signals/*"]
//	  verbs: ["post"]
//
// Answers are cached, so a storm of signals from one sender costs two API
// calls, not two per signal; concurrent requests with one uncached token
// share one review. Accepted and refused tokens are cached apart (see
// TokenReviewOptions), and reviews are bounded, so unauthenticated load
// costs a bounded number of API calls and never evicts a sender's answer.
type TokenReviewAuthenticator struct {
	tokens authenticationclient.TokenReviewInterface
	access authorizationclient.SubjectAccessReviewInterface
	opts   TokenReviewOptions
	now    func() time.Time

	accepted *lru.Cache            // token key → acceptedToken
	refused  *cache.LRUExpireCache // token key → error
	grants   *cache.LRUExpireCache // user + path → error (nil: allowed)
	flights  singleflight.Group    // token key → one review at a time
	strange  *semaphore.Weighted   // reviews of tokens never accepted
	known    *semaphore.Weighted   // re-reviews of accepted tokens
}

// acceptedToken is what the API server said of an accepted token, and
// until when to believe it without asking again.
type acceptedToken struct {
	user  authenticationv1.UserInfo
	until time.Time
}

// NewTokenReviewAuthenticator returns a TokenReviewAuthenticator asking
// through the given clients.
func NewTokenReviewAuthenticator(tokens authenticationclient.TokenReviewsGetter, access authorizationclient.SubjectAccessReviewsGetter, o TokenReviewOptions) *TokenReviewAuthenticator {
	o.setDefaults()
	reserved := max(1, (o.MaxInFlightReviews+3)/4)
	return &TokenReviewAuthenticator{
		tokens:   tokens.TokenReviews(),
		access:   access.SubjectAccessReviews(),
		opts:     o,
		now:      o.Clock.Now,
		accepted: lru.New(o.CacheSize),
		refused:  cache.NewLRUExpireCache(o.NegativeCacheSize),
		grants:   cache.NewLRUExpireCache(o.CacheSize),
		strange:  semaphore.NewWeighted(int64(o.MaxInFlightReviews - reserved)),
		known:    semaphore.NewWeighted(int64(reserved)),
	}
}

// Authenticate implements Authenticator.
func (a *TokenReviewAuthenticator) Authenticate(r *http.Request) error {
	token, ok := bearerToken(r)
	if !ok {
		return fmt.Errorf("%w: no bearer token in the Authorization header", ErrUnauthenticated)
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.opts.Timeout)
	defer cancel()
	user, err := a.user(ctx, token)
	if err != nil {
		return err
	}
	return a.authorize(ctx, user, r.URL.Path)
}

// user returns who token belongs to, from the caches or from one review
// shared by every request that asks at the same time.
func (a *TokenReviewAuthenticator) user(ctx context.Context, token string) (authenticationv1.UserInfo, error) {
	sum := sha256.Sum256([]byte(token))
	key := string(sum[:])
	user, known, err := a.cached(key)
	if err != nil || user != nil {
		return deref(user), err
	}
	if !known {
		if err := boundTo(token, a.opts.Audiences); err != nil {
			a.count("skipped")
			return authenticationv1.UserInfo{}, err
		}
	}
	// The review runs apart from this request's cancellation: others may
	// be waiting for it. This request stops waiting at its own deadline.
	ch := a.flights.DoChan(key, func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.opts.Timeout)
		defer cancel()
		return a.review(rctx, key, token, known)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return authenticationv1.UserInfo{}, res.Err
		}
		return res.Val.(authenticationv1.UserInfo), nil
	case <-ctx.Done():
		return authenticationv1.UserInfo{}, fmt.Errorf("wait for tokenreview: %w", ctx.Err())
	}
}

// cached returns the cached user of key, or its cached refusal, or
// neither; known says whether the token was accepted before.
func (a *TokenReviewAuthenticator) cached(key string) (user *authenticationv1.UserInfo, known bool, err error) {
	if v, ok := a.accepted.Get(key); ok {
		e := v.(acceptedToken)
		if a.now().Before(e.until) {
			return &e.user, true, nil
		}
		return nil, true, nil
	}
	if v, ok := a.refused.Get(key); ok {
		return nil, false, v.(error)
	}
	return nil, false, nil
}

// review asks the API server about token, within the bound on reviews in
// flight, and caches the answer.
func (a *TokenReviewAuthenticator) review(ctx context.Context, key, token string, known bool) (authenticationv1.UserInfo, error) {
	// Another flight may have answered between the lookup and this one.
	if user, _, err := a.cached(key); err != nil || user != nil {
		return deref(user), err
	}
	if known {
		if err := a.known.Acquire(ctx, 1); err != nil {
			return authenticationv1.UserInfo{}, fmt.Errorf("wait for a tokenreview slot: %w", err)
		}
		defer a.known.Release(1)
	} else {
		if !a.strange.TryAcquire(1) {
			a.count("throttled")
			return authenticationv1.UserInfo{}, fmt.Errorf("%w: %d token reviews in flight", ErrThrottled, a.opts.MaxInFlightReviews)
		}
		defer a.strange.Release(1)
	}
	review, err := a.tokens.Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: a.opts.Audiences},
	}, metav1.CreateOptions{})
	if err != nil {
		a.count("error")
		return authenticationv1.UserInfo{}, fmt.Errorf("create tokenreview: %w", err)
	}
	if err := a.refusal(review.Status); err != nil {
		a.count("refused")
		a.accepted.Remove(key)
		a.refused.Add(key, err, a.opts.NegativeCacheTTL)
		return authenticationv1.UserInfo{}, err
	}
	a.count("accepted")
	a.accepted.Add(key, acceptedToken{user: review.Status.User, until: a.trustedUntil(token)})
	return review.Status.User, nil
}

// trustedUntil is when the answer that accepted token stops being trusted:
// CacheTTL from now, or the token's expiry if that comes first. A
// TokenReview's answer carries no expiry, so it is read from the token's
// exp claim — trusted only because the API server has just accepted the
// token, signature and expiry checked. A token without one (a legacy
// Secret's) is held to CacheTTL alone.
func (a *TokenReviewAuthenticator) trustedUntil(token string) time.Time {
	until := a.now().Add(a.opts.CacheTTL)
	c, err := parseClaims(token)
	if err != nil || c.Exp == nil {
		return until
	}
	if exp := time.Unix(int64(*c.Exp), 0); exp.Before(until) {
		return exp
	}
	return until
}

// boundTo refuses, without asking the API server, a token that cannot be
// bound to any of audiences: one that is not a JWT, or whose aud claim
// names none of them. The API server would refuse it too — every
// authenticator that honours spec.audiences (ServiceAccount tokens, OIDC)
// reads them from a JWT's aud claim, and tokens of the others (static,
// bootstrap) are valid only for the API server's own audiences — so random
// or stolen cluster tokens cost no review. The signature is left to the
// TokenReview: a forged JWT naming the audience still costs one, within
// the bound on reviews in flight.
func boundTo(token string, audiences []string) error {
	claims, err := parseClaims(token)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(claims.Aud, func(aud string) bool { return slices.Contains(audiences, aud) }) {
		return fmt.Errorf("%w: the token is not bound to the audience %s (its audiences: %v)", ErrUnauthenticated, strings.Join(audiences, ","), []string(claims.Aud))
	}
	return nil
}

// jwtClaims are the claims of a JWT the gateway reads, unverified: the
// audience, to refuse a token no review could accept, and the expiry,
// once a review has accepted the token.
type jwtClaims struct {
	Aud audienceClaim `json:"aud"`
	// Exp is a NumericDate: seconds since the epoch, a fraction allowed.
	Exp *float64 `json:"exp"`
}

// parseClaims decodes token's claims without verifying its signature.
func parseClaims(token string) (jwtClaims, error) {
	var claims jwtClaims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return claims, fmt.Errorf("%w: the bearer token is not a JWT", ErrUnauthenticated)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return claims, fmt.Errorf("%w: the bearer token is not a JWT: payload: %v", ErrUnauthenticated, err)
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return claims, fmt.Errorf("%w: the bearer token is not a JWT: claims: %v", ErrUnauthenticated, err)
	}
	return claims, nil
}

// audienceClaim is a JWT's aud: one string or a list of them (RFC 7519).
type audienceClaim []string

func (a *audienceClaim) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// refusal says why a TokenReview's answer does not authenticate, or nil.
// The answer must name one of the audiences asked for: an authenticator
// that ignored spec.audiences would otherwise let any audience through.
func (a *TokenReviewAuthenticator) refusal(st authenticationv1.TokenReviewStatus) error {
	switch {
	case !st.Authenticated && st.Error != "":
		return fmt.Errorf("%w: %s", ErrUnauthenticated, st.Error)
	case !st.Authenticated:
		return fmt.Errorf("%w: the token was not accepted", ErrUnauthenticated)
	case !slices.ContainsFunc(st.Audiences, func(aud string) bool { return slices.Contains(a.opts.Audiences, aud) }):
		return fmt.Errorf("%w: the token is not bound to the audience %s (its audiences: %v)", ErrUnauthenticated, strings.Join(a.opts.Audiences, ","), st.Audiences)
	}
	return nil
}

func (a *TokenReviewAuthenticator) count(result string) {
	if m := a.opts.Metrics; m != nil {
		m.TokenReviews.WithLabelValues(result).Inc()
		if result == "throttled" {
			m.Throttled.WithLabelValues(limitTokenReviews).Inc()
		}
	}
}

func deref(u *authenticationv1.UserInfo) authenticationv1.UserInfo {
	if u == nil {
		return authenticationv1.UserInfo{}
	}
	return *u
}

func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
