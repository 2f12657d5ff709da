package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/cache"
	authenticationclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
)

// Errors an Authenticator returns, wrapped. Any other error means the
// decision could not be made (the API server did not answer): the request
// is answered 503, to be retried.
var (
	ErrUnauthenticated = errors.New("unauthenticated")
	ErrForbidden       = errors.New("forbidden")
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

// TokenReviewAuthenticator checks a Bearer token with a TokenReview, then
// asks a SubjectAccessReview whether its user may "post" to the request's
// non-resource URL, the way the API server authorizes its own /healthz or
// /metrics. Grant it with RBAC:
//
//	rules:
//	- nonResourceURLs: ["/api/v1/signals/*"]
//	  verbs: ["post"]
//
// Both answers are cached for TTL, so a storm of signals from one sender
// costs two API calls, not two per signal.
type TokenReviewAuthenticator struct {
	tokens  authenticationclient.TokenReviewInterface
	access  authorizationclient.SubjectAccessReviewInterface
	ttl     time.Duration
	timeout time.Duration
	users   *cache.LRUExpireCache // token hash → authenticationv1.UserInfo or error
	grants  *cache.LRUExpireCache // user + path → error (nil: allowed)
}

// NewTokenReviewAuthenticator returns a TokenReviewAuthenticator asking
// through the given clients. ttl defaults to 10s.
func NewTokenReviewAuthenticator(tokens authenticationclient.TokenReviewsGetter, access authorizationclient.SubjectAccessReviewsGetter, ttl time.Duration) *TokenReviewAuthenticator {
	if ttl <= 0 {
		ttl = 10 * time.Second
	}
	return &TokenReviewAuthenticator{
		tokens:  tokens.TokenReviews(),
		access:  access.SubjectAccessReviews(),
		ttl:     ttl,
		timeout: 5 * time.Second,
		users:   cache.NewLRUExpireCache(1024),
		grants:  cache.NewLRUExpireCache(1024),
	}
}

// Authenticate implements Authenticator.
func (a *TokenReviewAuthenticator) Authenticate(r *http.Request) error {
	token, ok := bearerToken(r)
	if !ok {
		return fmt.Errorf("%w: no bearer token in the Authorization header", ErrUnauthenticated)
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.timeout)
	defer cancel()
	user, err := a.user(ctx, token)
	if err != nil {
		return err
	}
	return a.authorize(ctx, user, r.URL.Path)
}

func (a *TokenReviewAuthenticator) user(ctx context.Context, token string) (authenticationv1.UserInfo, error) {
	sum := sha256.Sum256([]byte(token))
	key := hex.EncodeToString(sum[:])
	if v, ok := a.users.Get(key); ok {
		if err, isErr := v.(error); isErr {
			return authenticationv1.UserInfo{}, err
		}
		return v.(authenticationv1.UserInfo), nil
	}
	review, err := a.tokens.Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token},
	}, metav1.CreateOptions{})
	if err != nil {
		return authenticationv1.UserInfo{}, fmt.Errorf("create tokenreview: %w", err)
	}
	if !review.Status.Authenticated {
		err := fmt.Errorf("%w: the token was not accepted", ErrUnauthenticated)
		if review.Status.Error != "" {
			err = fmt.Errorf("%w: %s", ErrUnauthenticated, review.Status.Error)
		}
		a.users.Add(key, err, a.ttl)
		return authenticationv1.UserInfo{}, err
	}
	a.users.Add(key, review.Status.User, a.ttl)
	return review.Status.User, nil
}

func (a *TokenReviewAuthenticator) authorize(ctx context.Context, user authenticationv1.UserInfo, path string) error {
	key := user.UID + "\x00" + user.Username + "\x00" + strings.Join(user.Groups, ",") + "\x00" + path
	if v, ok := a.grants.Get(key); ok {
		if v == nil {
			return nil
		}
		return v.(error)
	}
	extra := make(map[string]authorizationv1.ExtraValue, len(user.Extra))
	for k, v := range user.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	review, err := a.access.Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:                  user.Username,
			UID:                   user.UID,
			Groups:                user.Groups,
			Extra:                 extra,
			NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: path, Verb: "post"},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create subjectaccessreview: %w", err)
	}
	if review.Status.Allowed {
		a.grants.Add(key, nil, a.ttl)
		return nil
	}
	if review.Status.EvaluationError != "" && review.Status.Reason == "" {
		// Not a decision: RBAC could not be evaluated. Retry later.
		return fmt.Errorf("subjectaccessreview for %s: %s", user.Username, review.Status.EvaluationError)
	}
	err = fmt.Errorf("%w: user %q may not post to %s", ErrForbidden, user.Username, path)
	if review.Status.Reason != "" {
		err = fmt.Errorf("%w: %s", err, review.Status.Reason)
	}
	a.grants.Add(key, err, a.ttl)
	return err
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
