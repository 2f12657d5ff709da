package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"k8s.io/apimachinery/pkg/types"

	"github.com/rrguard/rrguard/gateway/pipeline"
	"github.com/rrguard/rrguard/gateway/signal"
)

// heldCounter holds every signal until release is closed, and says on
// entered when one arrives.
func heldCounter(entered chan<- struct{}, release <-chan struct{}) counterFunc {
	return func(*signal.Signal, string) (pipeline.Result, error) {
		entered <- struct{}{}
		<-release
		return pipeline.Result{Outcome: pipeline.OutcomeDuplicate, OccurrenceCount: 2,
			RemediationRequest: types.NamespacedName{Namespace: "rrguard-system", Name: "rr"}}, nil
	}
}

// The requests in flight are bounded before anything is done for them:
// one beyond the bound waits for a slot, and is answered 429 with a
// Retry-After and a problem when none comes free in time — without its
// caller even being authenticated.
func TestRequestsBeyondTheInFlightBoundWaitThenAre429(t *testing.T) {
	for name, tc := range map[string]struct {
		release bool // a held request finishes while the extra one waits
		code    int
	}{
		"no slot comes free: 429":           {release: false, code: http.StatusTooManyRequests},
		"a slot comes free: served in turn": {release: true, code: http.StatusAccepted},
	} {
		t.Run(name, func(t *testing.T) {
			entered, release := make(chan struct{}, 8), make(chan struct{})
			var once sync.Once
			free := func() { once.Do(func() { close(release) }) }
			defer free()
			var authenticated atomic.Int64
			auth := AuthenticatorFunc(func(*http.Request) error { authenticated.Add(1); return nil })
			h, m := newTestHandler(t, Options{
				Counter: heldCounter(entered, release), Auth: auth,
				MaxRequestsInFlight: 2, MaxQueueWait: 300 * time.Millisecond,
			})
			held := make(chan int, 2)
			for range 2 {
				go func() {
					held <- do(h, http.MethodPost, PrometheusPath, "application/json", payload(firing("api"))).Code
				}()
				<-entered
			}
			extra := make(chan int, 1)
			go func() {
				extra <- do(h, http.MethodPost, PrometheusPath, "application/json", payload(firing("api"))).Code
			}()
			if tc.release {
				time.Sleep(50 * time.Millisecond) // the extra request is queued by now
				free()
			}
			// Without a slot, the extra request must not reach the counter.
			var counted <-chan struct{} = entered
			if tc.release {
				counted = nil
			}
			var got int
			select {
			case got = <-extra:
			case <-counted:
				t.Fatal("the request beyond the bound reached the counter while two were in flight")
			case <-time.After(10 * time.Second):
				t.Fatal("the request beyond the bound was not answered")
			}
			free()
			for range 2 {
				if code := <-held; code != http.StatusAccepted {
					t.Errorf("a held request was answered %d, want 202", code)
				}
			}
			if got != tc.code {
				t.Fatalf("the request beyond the bound was answered %d, want %d", got, tc.code)
			}
			throttled := counterValue(t, m.Throttled.WithLabelValues(limitRequests))
			if tc.release {
				if throttled != 0 || authenticated.Load() != 3 {
					t.Errorf("throttled %v, authenticated %d; want 0 and all 3", throttled, authenticated.Load())
				}
				return
			}
			if throttled != 1 || authenticated.Load() != 2 {
				t.Errorf("throttled %v, authenticated %d; want 1 and only the 2 held", throttled, authenticated.Load())
			}
		})
	}
}

// The 429 itself: a problem document and a Retry-After a sender can obey.
func TestA429IsAProblemWithRetryAfter(t *testing.T) {
	entered, release := make(chan struct{}, 2), make(chan struct{})
	defer close(release)
	h, _ := newTestHandler(t, Options{Counter: heldCounter(entered, release), MaxRequestsInFlight: 1, MaxQueueWait: time.Millisecond})
	go do(h, http.MethodPost, PrometheusPath, "application/json", payload(firing("api")))
	<-entered
	answered := make(chan *httptest.ResponseRecorder, 1)
	go func() { answered <- do(h, http.MethodPost, PrometheusPath, "application/json", payload(firing("api"))) }()
	var rec *httptest.ResponseRecorder
	select {
	case rec = <-answered:
	case <-entered:
		t.Fatal("a second request reached the counter with one slot, taken")
	}
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("answered %d with Retry-After %q, want 429 with 1", rec.Code, rec.Header().Get("Retry-After"))
	}
	if p := decodeProblem(t, rec); !strings.HasSuffix(p.Type, "/too-many-requests") || !strings.Contains(p.Detail, "--max-requests-inflight") {
		t.Errorf("problem %+v, want too-many-requests naming the flag", p)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var metric dto.Metric
	if err := c.Write(&metric); err != nil {
		t.Fatal(err)
	}
	return metric.GetCounter().GetValue()
}
