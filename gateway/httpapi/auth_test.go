package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authenticationclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
)

// These tests hold the authenticator's bookkeeping — caches, shared and
// bounded reviews, the audience check — against a scripted API server; the
// gateway's tests run it against the real one.

// jwt returns a JWT-shaped token bound to aud (the gateway's when none)
// whose signature segment is name: the reviewer answers by name.
func jwt(name string, aud ...string) string {
	if len(aud) == 0 {
		aud = []string{DefaultAudience}
	}
	claims, _ := json.Marshal(map[string]any{"aud": aud, "sub": "system:serviceaccount:monitoring:" + name})
	return rawJWT(string(claims), name)
}

// rawJWT returns a JWT-shaped token with the given claims and signature
// segment.
func rawJWT(claims, signature string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(claims)) + "." + signature
}

// reviewer scripts TokenReview answers by the token's name (jwt): "good"
// is alertmanager's token for the gateway's audience, "api-audience" a
// valid token for the API server's audience only, "lying" a token an
// authenticator accepted for another audience than asked; anything else is
// refused. gate, when set, holds every review until it is closed.
type reviewer struct {
	gate     chan struct{}
	reviews  atomic.Int64
	inFlight atomic.Int64
	maxSeen  atomic.Int64
	mu       sync.Mutex
	byToken  map[string]int
	// audiences are the last review's spec.audiences.
	audiences []string
}

// The reviewer is both clients the authenticator needs: it answers
// TokenReviews as scripted and allows every SubjectAccessReview.
func (rv *reviewer) TokenReviews() authenticationclient.TokenReviewInterface { return rv }

func (rv *reviewer) SubjectAccessReviews() authorizationclient.SubjectAccessReviewInterface {
	return allowAll{}
}

func (rv *reviewer) Create(_ context.Context, tr *authenticationv1.TokenReview, _ metav1.CreateOptions) (*authenticationv1.TokenReview, error) {
	rv.reviews.Add(1)
	rv.mu.Lock()
	name := tr.Spec.Token[strings.LastIndex(tr.Spec.Token, ".")+1:]
	rv.byToken[name]++
	rv.audiences = tr.Spec.Audiences
	rv.mu.Unlock()
	n := rv.inFlight.Add(1)
	defer rv.inFlight.Add(-1)
	for old := rv.maxSeen.Load(); n > old && !rv.maxSeen.CompareAndSwap(old, n); old = rv.maxSeen.Load() {
	}
	if rv.gate != nil {
		<-rv.gate
	}
	out := tr.DeepCopy()
	alertmanager := authenticationv1.UserInfo{Username: "system:serviceaccount:monitoring:alertmanager"}
	switch name {
	case "good":
		out.Status = authenticationv1.TokenReviewStatus{Authenticated: true, Audiences: tr.Spec.Audiences, User: alertmanager}
	case "lying":
		out.Status = authenticationv1.TokenReviewStatus{Authenticated: true, Audiences: []string{"https://kubernetes.default.svc"}, User: alertmanager}
	case "api-audience":
		out.Status = authenticationv1.TokenReviewStatus{Error: `token audiences ["https://kubernetes.default.svc"] is invalid for the target audiences ["rrguard-gateway"]`}
	default:
		out.Status = authenticationv1.TokenReviewStatus{Error: "invalid bearer token"}
	}
	return out, nil
}

type allowAll struct{}

func (allowAll) Create(_ context.Context, sar *authorizationv1.SubjectAccessReview, _ metav1.CreateOptions) (*authorizationv1.SubjectAccessReview, error) {
	out := sar.DeepCopy()
	out.Status.Allowed = true
	return out, nil
}

func (rv *reviewer) authenticator(o TokenReviewOptions) *TokenReviewAuthenticator {
	return NewTokenReviewAuthenticator(rv, rv, o)
}

func newReviewer() *reviewer { return &reviewer{byToken: map[string]int{}} }

func (rv *reviewer) reviewsOf(name string) int {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return rv.byToken[name]
}

// authenticate authenticates a request with jwt(name).
func authenticate(a Authenticator, name string) error { return authenticateRaw(a, jwt(name)) }

func authenticateRaw(a Authenticator, token string) error {
	r := httptest.NewRequest(http.MethodPost, PrometheusPath, nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return a.Authenticate(r)
}

func TestTokenReviewAsksForTheGatewaysAudienceAndChecksTheAnswer(t *testing.T) {
	rv := newReviewer()
	a := rv.authenticator(TokenReviewOptions{})
	for token, want := range map[string]error{"good": nil, "api-audience": ErrUnauthenticated, "lying": ErrUnauthenticated, "random": ErrUnauthenticated} {
		if err := authenticate(a, token); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("token %q: %v, want %v", token, err, want)
		}
	}
	if len(rv.audiences) != 1 || rv.audiences[0] != DefaultAudience {
		t.Errorf("spec.audiences = %v, want [%s]", rv.audiences, DefaultAudience)
	}
}

// A token that cannot be bound to the gateway's audience is refused without
// a review: random strings and cluster tokens cost no API call.
func TestTokensThatCannotBeBoundAreRefusedWithoutAReview(t *testing.T) {
	rv := newReviewer()
	a := rv.authenticator(TokenReviewOptions{})
	for name, token := range map[string]string{
		"a random string":                     "d2VsbCwgd2VsbA",
		"three segments, no JSON":             "a.b.c",
		"a JWT for the API server's audience": jwt("cluster", "https://kubernetes.default.svc"),
		"a JWT for no audience":               strings.Replace(jwt("none"), base64.RawURLEncoding.EncodeToString([]byte(`{"aud":["rrguard-gateway"],"sub":"system:serviceaccount:monitoring:none"}`)), base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x"}`)), 1),
		"a JWT whose aud is a number":         base64.RawURLEncoding.EncodeToString([]byte(`{}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"aud":7}`)) + ".x",
	} {
		if err := authenticateRaw(a, token); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s: %v, want ErrUnauthenticated", name, err)
		}
	}
	if n := rv.reviews.Load(); n != 0 {
		t.Errorf("%d TokenReviews for tokens that cannot be bound, want none", n)
	}
	// aud as a single string is a JWT too (RFC 7519), and is reviewed.
	single := rawJWT(`{"aud":"rrguard-gateway"}`, "good")
	if err := authenticateRaw(a, single); err != nil || rv.reviews.Load() != 1 {
		t.Errorf("a JWT with aud \"rrguard-gateway\": %v after %d reviews, want accepted after one", err, rv.reviews.Load())
	}
}

// Answers are cached apart: a flood of distinct bad tokens, ten times the
// size of every cache, leaves the sender's accepted token in its cache,
// reviewed once.
func TestBadTokensNeverEvictAnAcceptedOne(t *testing.T) {
	rv := newReviewer()
	a := rv.authenticator(TokenReviewOptions{CacheSize: 16, NegativeCacheSize: 16})
	if err := authenticate(a, "good"); err != nil {
		t.Fatal(err)
	}
	for i := range 160 {
		if err := authenticate(a, fmt.Sprintf("bad-%d", i)); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("bad token %d: %v", i, err)
		}
		if err := authenticate(a, "good"); err != nil {
			t.Fatalf("after %d bad tokens the good one failed: %v", i+1, err)
		}
	}
	if n := rv.reviewsOf("good"); n != 1 {
		t.Errorf("the good token was reviewed %d times, want once", n)
	}
}

// Concurrent requests with one uncached token share one review; a refused
// token is remembered, so its retries cost nothing until the TTL ends.
func TestOneReviewPerTokenAtATime(t *testing.T) {
	rv := newReviewer()
	rv.gate = make(chan struct{})
	a := rv.authenticator(TokenReviewOptions{})
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 50 {
		wg.Go(func() {
			if authenticate(a, "good") != nil {
				failed.Add(1)
			}
		})
	}
	for rv.reviews.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(rv.gate)
	wg.Wait()
	if failed.Load() != 0 || rv.reviewsOf("good") != 1 {
		t.Errorf("%d of 50 failed, %d reviews; want none failed and one review", failed.Load(), rv.reviewsOf("good"))
	}
	for range 5 {
		_ = authenticate(a, "stolen")
	}
	if n := rv.reviewsOf("stolen"); n != 1 {
		t.Errorf("a refused token retried 5 times was reviewed %d times, want once", n)
	}
}

// Reviews are bounded: with every slot for strangers busy, a new token is
// throttled at once, while a sender whose accepted answer expired is
// re-reviewed on the slot kept for known tokens.
func TestReviewsInFlightAreBoundedAndAKnownSenderKeepsItsSlot(t *testing.T) {
	rv := newReviewer()
	a := rv.authenticator(TokenReviewOptions{MaxInFlightReviews: 4, CacheTTL: time.Minute})
	now := time.Now()
	a.now = func() time.Time { return now }
	if err := authenticate(a, "good"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute) // the good token's answer has expired

	rv.gate = make(chan struct{})
	var wg sync.WaitGroup
	for i := range 3 { // 4 slots: 3 for strangers, 1 kept
		wg.Go(func() { _ = authenticate(a, fmt.Sprintf("stranger-%d", i)) })
	}
	for rv.inFlight.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	if err := authenticate(a, "one-more-stranger"); !errors.Is(err, ErrThrottled) {
		t.Errorf("a fourth stranger with 3 reviews in flight: %v, want ErrThrottled", err)
	}
	known := make(chan error, 1)
	go func() { known <- authenticate(a, "good") }()
	for rv.reviewsOf("good") < 2 {
		time.Sleep(time.Millisecond)
	}
	close(rv.gate)
	wg.Wait()
	if err := <-known; err != nil {
		t.Errorf("the known sender, re-reviewed while strangers held every other slot: %v", err)
	}
	if m := rv.maxSeen.Load(); m > 4 {
		t.Errorf("%d reviews in flight at once, want at most 4", m)
	}
}
