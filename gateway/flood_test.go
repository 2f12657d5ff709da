package gateway_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/rrguard/rrguard/gateway/httpapi"
	"github.com/rrguard/rrguard/gateway/pipeline"
	"github.com/rrguard/rrguard/test/gatewaytest"
)

// reviewRecorder watches the TokenReviews an authenticator sends to the
// real API server: how many, how many at once, and how many carried the
// legitimate sender's token.
type reviewRecorder struct {
	next                                     http.RoundTripper
	legit                                    []byte
	reviews, inFlight, maxSeen, legitReviews atomic.Int64
}

func (rr *reviewRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || !strings.HasSuffix(req.URL.Path, "/tokenreviews") {
		return rr.next.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	rr.reviews.Add(1)
	if bytes.Contains(body, rr.legit) {
		rr.legitReviews.Add(1)
	}
	n := rr.inFlight.Add(1)
	defer rr.inFlight.Add(-1)
	for old := rr.maxSeen.Load(); n > old && !rr.maxSeen.CompareAndSwap(old, n); old = rr.maxSeen.Load() {
	}
	return rr.next.RoundTrip(req)
}

// reviewClients returns clients for TokenReviews and SubjectAccessReviews
// on the real API server, through a fresh recorder.
func reviewClients(t *testing.T, legit string) (*kubernetes.Clientset, *reviewRecorder) {
	t.Helper()
	rec := &reviewRecorder{legit: []byte(legit)}
	cfg := rest.CopyConfig(env.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { rec.next = rt; return rec }
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs, rec
}

// naiveAuthenticator is the authenticator the gateway had before: every
// answer in one LRU cache (1024 entries then; naiveCacheSize here, the load
// scaled with it) for 10 s, and a TokenReview for every token not in it, as
// many at once as requests ask. It checks the audience as rrguard's does,
// so that only the caching and the bounds differ.
const naiveCacheSize = 256

type naiveAuthenticator struct {
	cs    *kubernetes.Clientset
	cache *cache.LRUExpireCache
}

func (n *naiveAuthenticator) Authenticate(r *http.Request) error {
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	sum := sha256.Sum256([]byte(token))
	key := string(sum[:])
	v, ok := n.cache.Get(key)
	if !ok {
		tr, err := n.cs.AuthenticationV1().TokenReviews().Create(r.Context(), &authenticationv1.TokenReview{
			Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: []string{httpapi.DefaultAudience}}}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		v = tr.Status.User
		if !tr.Status.Authenticated {
			v = fmt.Errorf("%w: %s", httpapi.ErrUnauthenticated, tr.Status.Error)
		}
		n.cache.Add(key, v, 10*time.Second)
	}
	if err, bad := v.(error); bad {
		return err
	}
	user := v.(authenticationv1.UserInfo)
	sar, err := n.cs.AuthorizationV1().SubjectAccessReviews().Create(r.Context(), &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user.Username, Groups: user.Groups, NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: r.URL.Path, Verb: "post"},
	}}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	if !sar.Status.Allowed {
		return httpapi.ErrForbidden
	}
	return nil
}

// floodLoad is the load: a legitimate sender posts an alert, then
// floodWorkers senders post ever new bad tokens while the legitimate sender
// posts legitRequests more times, each after at least gapTokens bad tokens
// (more than the naive cache holds) and gapTime since its previous request.
// The bad tokens are the worst kind: JWTs naming the gateway's audience
// with a forged signature, which only a TokenReview can refuse.
type floodLoad struct {
	floodWorkers, legitRequests, gapTokens int
	gapTime                                time.Duration
}

// floodResult is what the load got back.
type floodResult struct {
	legitCodes []int
	floodCodes map[int]int
}

func (l floodLoad) run(t *testing.T, url, legit string) floodResult {
	t.Helper()
	body := alertmanagerPayload(alert("payments", "api"))
	var sent atomic.Int64
	var mu sync.Mutex
	res := floodResult{floodCodes: map[int]int{}}
	legitPost := func() {
		r, err := post(url, httpapi.PrometheusPath, "application/json", body, "Authorization", "Bearer "+legit)
		code := -1
		if err == nil {
			code = r.Code
		}
		res.legitCodes = append(res.legitCodes, code)
	}
	legitPost()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range l.floodWorkers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r, err := post(url, httpapi.PrometheusPath, "application/json", body, "Authorization", "Bearer "+forgedJWT(fmt.Sprintf("%d-%d", w, i)))
				sent.Add(1)
				mu.Lock()
				if err != nil {
					res.floodCodes[-1]++
				} else {
					res.floodCodes[r.Code]++
				}
				mu.Unlock()
			}
		})
	}
	last, lastAt := int64(0), time.Now()
	for range l.legitRequests {
		for sent.Load() < last+int64(l.gapTokens) || time.Since(lastAt) < l.gapTime {
			time.Sleep(time.Millisecond)
		}
		legitPost()
		last, lastAt = sent.Load(), time.Now()
	}
	close(stop)
	wg.Wait()
	return res
}

// A flood of bad tokens — each one new, so no cache answers it — does not
// make a legitimate sender fail, on the real API server: the sender's
// accepted token stays cached (reviewed once) however many bad tokens pass,
// TokenReviews in flight never exceed the bound, and the flood is answered
// 401 or 429, never 5xx. When the sender's cached answer expires in the
// middle of the flood, it is re-reviewed on the slot kept for known tokens
// and still served. The same load on the naive authenticator (one cache,
// unbounded reviews) evicts the sender's answer and sends reviews beyond
// the bound: what the first two guard against.
func TestAFloodOfBadTokensDoesNotFailALegitimateSender(t *testing.T) {
	const bound = 8
	load := floodLoad{floodWorkers: 24, legitRequests: 3, gapTokens: naiveCacheSize + 50}
	for _, tc := range []struct {
		name  string
		naive bool
		ttl   time.Duration
	}{
		{name: "rrguard"},
		{name: "rrguard, the sender's answer expiring mid-flood", ttl: 300 * time.Millisecond},
		{name: "naive", naive: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := env.Namespace(t)
			legit := serviceAccountToken(t, ns, "alertmanager", httpapi.DefaultAudience)
			grantSignals(t, ns, "alertmanager")
			cs, rec := reviewClients(t, legit)
			var auth httpapi.Authenticator = httpapi.NewTokenReviewAuthenticator(cs.AuthenticationV1(), cs.AuthorizationV1(),
				httpapi.TokenReviewOptions{MaxInFlightReviews: bound, CacheTTL: tc.ttl})
			if tc.naive {
				auth = &naiveAuthenticator{cs: cs, cache: cache.NewLRUExpireCache(naiveCacheSize)}
			}
			url := serveSignals(t, ns, auth)
			l := load
			if tc.ttl > 0 {
				l.gapTime = tc.ttl + 100*time.Millisecond
			}
			res := l.run(t, url, legit)
			t.Logf("legitimate answers %v; flood answers %v; %d TokenReviews, %d of the legitimate token, at most %d at once",
				res.legitCodes, res.floodCodes, rec.reviews.Load(), rec.legitReviews.Load(), rec.maxSeen.Load())

			if tc.naive {
				if rec.legitReviews.Load() < 2 || rec.maxSeen.Load() <= bound {
					t.Fatalf("the naive authenticator reviewed the sender's token %d times, at most %d reviews at once: the load did not evict its answer or exceed the bound, so it proves nothing",
						rec.legitReviews.Load(), rec.maxSeen.Load())
				}
				return
			}
			for i, code := range res.legitCodes {
				if code != http.StatusCreated && code != http.StatusAccepted {
					t.Errorf("legitimate request %d answered %d during the flood, want 201 or 202", i, code)
				}
			}
			if m := rec.maxSeen.Load(); m > bound {
				t.Errorf("%d TokenReviews in flight at once, want at most %d", m, bound)
			}
			for code, n := range res.floodCodes {
				if code != http.StatusUnauthorized && code != http.StatusTooManyRequests {
					t.Errorf("%d flood requests answered %d, want only 401 and 429", n, code)
				}
			}
			if res.floodCodes[http.StatusTooManyRequests] == 0 {
				t.Error("no flood request was throttled: the review bound was never reached, so it was not tested")
			}
			switch n := rec.legitReviews.Load(); {
			case tc.ttl == 0 && n != 1:
				t.Errorf("the legitimate token was reviewed %d times, want once: the flood evicted its answer", n)
			case tc.ttl > 0 && n < 2:
				t.Errorf("the legitimate token was reviewed %d times: its answer never expired during the flood, so the re-review was not tested", n)
			}
		})
	}
}

// forgedJWT is a JWT naming the gateway's audience, signed by nobody.
func forgedJWT(id string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"forged"}`)) + "." +
		enc([]byte(`{"aud":["`+httpapi.DefaultAudience+`"],"sub":"system:serviceaccount:monitoring:alertmanager","exp":4102444800}`)) + "." + enc([]byte(id))
}

// Random tokens, and tokens for the API server's audience, cost the real
// API server nothing: they cannot be bound to the gateway's audience, so
// they are refused without a TokenReview.
func TestTokensThatCannotBeBoundCostNoTokenReview(t *testing.T) {
	ns := env.Namespace(t)
	clusterToken := serviceAccountToken(t, ns, "alertmanager")
	grantSignals(t, ns, "alertmanager")
	cs, rec := reviewClients(t, clusterToken)
	url := serveSignals(t, ns, httpapi.NewTokenReviewAuthenticator(cs.AuthenticationV1(), cs.AuthorizationV1(), httpapi.TokenReviewOptions{}))
	body := alertmanagerPayload(alert("payments", "api"))
	for i := range 200 {
		token := fmt.Sprintf("random-%d", i)
		if i%2 == 0 {
			token = clusterToken
		}
		r, err := post(url, httpapi.PrometheusPath, "application/json", body, "Authorization", "Bearer "+token)
		if err != nil || r.Code != http.StatusUnauthorized {
			t.Fatalf("request %d: %v %d, want 401", i, err, r.Code)
		}
	}
	if n := rec.reviews.Load(); n != 0 {
		t.Errorf("%d TokenReviews for 200 tokens that cannot be bound, want none", n)
	}
}

// serveSignals serves the gateway's signal API with auth over a real
// pipeline in ns, plainly, until t ends.
func serveSignals(t *testing.T, ns string, auth httpapi.Authenticator) string {
	t.Helper()
	p, err := pipeline.New(env.Client, env.Client, pipeline.Options{Namespace: ns, Targets: gatewaytest.Targets(t, env.Config, env.Client)})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.NewHandler(httpapi.Options{Counter: p, Auth: auth, Log: logr.Discard(), Audit: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
