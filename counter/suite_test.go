package counter

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/test/testenv"
)

// env is the control plane the tests share.
var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.Options{}, func(e *testenv.Env) { env = e })
}

// named is a Find that counts on the request its payload names, as the
// webhook counts on the holder its denial named.
func named(b *Batch[types.NamespacedName]) (Target, error) {
	rr, err := b.Get(b.First())
	if err != nil {
		return Target{}, err
	}
	if rr == nil {
		return Target{}, fmt.Errorf("%w: %s does not exist", ErrUnavailable, b.First())
	}
	return Target{RR: rr, Named: true}, nil
}

// newMetrics returns metrics registered nowhere.
func newMetrics() *Metrics {
	return &Metrics{
		Coalesced: prometheus.NewCounter(prometheus.CounterOpts{Name: "coalesced"}),
		Conflicts: prometheus.NewCounter(prometheus.CounterOpts{Name: "conflicts"}),
		Batches:   prometheus.NewHistogram(prometheus.HistogramOpts{Name: "batches"}),
		Settled:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "settled"}, []string{"verdict"}),
		Panics:    prometheus.NewCounter(prometheus.CounterOpts{Name: "panics"}),
	}
}

// newCounter returns a Counter on e whose writes and watches go through
// wraps, the first innermost; reads go straight to the API server.
func newCounter(t *testing.T, e *testenv.Env, o Options, wraps ...func(http.RoundTripper) http.RoundTripper) (*Counter[types.NamespacedName], *Metrics) {
	t.Helper()
	cfg := rest.CopyConfig(e.Config)
	for _, w := range wraps {
		cfg.Wrap(w)
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: e.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	o.Metrics = newMetrics()
	return New(e.Client, c, named, o), o.Metrics
}

// stored creates an active request named name in ns and returns its key.
func stored(t *testing.T, e *testenv.Env, ns, name string) types.NamespacedName {
	t.Helper()
	fp := fmt.Sprintf("%x", sha256.Sum256([]byte(ns+"/"+name)))
	rr := testenv.RemediationRequest(ns, name, fp)
	if err := e.Client.Create(context.Background(), rr); err != nil {
		t.Fatal(err)
	}
	return client.ObjectKeyFromObject(rr)
}

// sender sends signals as Alertmanager does: each again until it is
// answered without an error. It counts the answers that said counted.
type sender struct {
	t        *testing.T
	answered atomic.Int64
}

func (s *sender) send(k *Counter[types.NamespacedName], key types.NamespacedName) {
	var err error
	for range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = k.Count(ctx, key.String(), key, time.Now())
		cancel()
		if err == nil {
			s.answered.Add(1)
			return
		}
		if !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrDeadline) {
			s.t.Fatalf("Count: %v", err)
		}
	}
	s.t.Fatalf("a signal was never counted in 10 sends; the last: %v", err)
}

// storedCount is the request's count as stored.
func storedCount(t *testing.T, e *testenv.Env, key types.NamespacedName) int64 {
	t.Helper()
	rr := &v1alpha1.RemediationRequest{}
	if err := e.Client.Get(context.Background(), key, rr); err != nil {
		t.Fatal(err)
	}
	return int64(rr.Status.GetDeduplication().OccurrenceCount)
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

func settledValue(m *Metrics, verdict string) float64 {
	return counterValue(m.Settled.WithLabelValues(verdict))
}
