package pipeline

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rrguard/rrguard/test/testenv"
)

// faultyPipeline returns a pipeline in ns whose writes and watches go
// through f, in front of the real API server; reads go straight to it.
// CountSends counts what f sends, as it counts client-go's own resends.
func faultyPipeline(t *testing.T, ns string, f *testenv.FaultyWrites, o Options) (*Pipeline, *Metrics) {
	t.Helper()
	return wrappedPipeline(t, ns, o, CountSends, f.Wrap)
}

// wrappedPipeline returns a pipeline in ns whose writes and watches go
// through wraps, the first innermost; reads go straight to the API server.
func wrappedPipeline(t *testing.T, ns string, o Options, wraps ...func(http.RoundTripper) http.RoundTripper) (*Pipeline, *Metrics) {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	for _, w := range wraps {
		cfg.Wrap(w)
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	o.Namespace = ns
	o.Metrics = NewMetrics(prometheus.NewRegistry())
	p, err := New(env.Client, c, o)
	if err != nil {
		t.Fatal(err)
	}
	return p, o.Metrics
}

// sender sends signals as Alertmanager does: each again until it is
// answered without an error. It counts the answers that said counted.
type sender struct {
	t        *testing.T
	answered atomic.Int64
}

func (s *sender) send(p *Pipeline, ns, target string) {
	sig, _ := testSignal(ns, target)
	var err error
	for range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = p.Submit(ctx, sig)
		cancel()
		if err == nil {
			s.answered.Add(1)
			return
		}
		if !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrDeadline) {
			s.t.Fatalf("Submit: %v", err)
		}
	}
	s.t.Fatalf("a signal was never counted in 10 sends; the last: %v", err)
}

// storedCount is the fingerprint's count as stored.
func storedCount(t *testing.T, ns, target string) int64 {
	t.Helper()
	_, fp := testSignal(ns, target)
	items := listRRs(t, ns, fp)
	if len(items) != 1 {
		t.Fatalf("%d requests for %s, want 1", len(items), target)
	}
	return int64(items[0].Status.GetDeduplication().OccurrenceCount)
}

func settledValue(m *Metrics, verdict string) float64 {
	return counterValue(m.Settled.WithLabelValues(verdict))
}

// Every other status write suffers the fault: it lands and its answer is
// lost, or is a 504, or comes back a Conflict because it was sent twice,
// or lands after its 504, or never reaches the server. The sender resends
// whatever was not answered as counted; the stored count is still exactly
// the number of signals answered as counted.
func TestAStatusWriteWhoseAnswerIsLostIsCountedExactlyOnce(t *testing.T) {
	for _, fault := range []testenv.WriteFault{testenv.AnswerLost, testenv.AnswerTimeout, testenv.SentTwice, testenv.ResentByClient, testenv.LandsAfterTimeout, testenv.NotSent} {
		t.Run(fault.String(), func(t *testing.T) {
			ns := env.Namespace(t)
			f := &testenv.FaultyWrites{Fault: func(n int64) testenv.WriteFault {
				if n%2 == 0 {
					return fault
				}
				return testenv.Untouched
			}}
			p, m := faultyPipeline(t, ns, f, Options{})
			if fault == testenv.ResentByClient {
				// As the gateway wires it: the counter around the
				// connections, client-go's resend above both.
				p, m = wrappedPipeline(t, ns, Options{}, f.Wrap, CountSends)
			}
			s := &sender{t: t}
			const signals = 12
			for range signals {
				s.send(p, ns, "web")
			}
			if got := storedCount(t, ns, "web"); got != s.answered.Load() || got != signals {
				t.Errorf("stored count %d, answered as counted %d, sent %d: want all equal", got, s.answered.Load(), signals)
			}
			// Even a write that never reached the server is settled as
			// landed: the settling read finds the request unchanged and
			// sends the write again, which lands.
			if settledValue(m, "landed") == 0 || settledValue(m, "unknown") != 0 {
				t.Errorf("settled: landed %v, not landed %v, unknown %v; want some landed and none unknown",
					settledValue(m, "landed"), settledValue(m, "not_landed"), settledValue(m, "unknown"))
			}
		})
	}
}

// The Conflict that answers a resend of a write whose first send landed is
// not a refusal. A pipeline that counts the sends above the transport that
// resends takes it for one (a write sent once), reads the request, finds
// its own count there and counts again: the stored count runs ahead of the
// signals answered as counted. CountSends where client-go's resends pass
// through it is what the sent-twice case above relies on.
func TestAConflictToAResendTakenForARefusalCountsTwice(t *testing.T) {
	ns := env.Namespace(t)
	f := &testenv.FaultyWrites{Fault: func(n int64) testenv.WriteFault {
		if n%2 == 0 {
			return testenv.SentTwice
		}
		return testenv.Untouched
	}}
	p, _ := wrappedPipeline(t, ns, Options{}, f.Wrap, CountSends)
	s := &sender{t: t}
	const signals = 6
	for range signals {
		s.send(p, ns, "web")
	}
	if got := storedCount(t, ns, "web"); got <= s.answered.Load() {
		t.Errorf("stored count %d, answered as counted %d: the resend's Conflict was settled although the pipeline saw one send", got, s.answered.Load())
	}
}

// Another replica counts on the request between a write whose answer was
// lost and the read that settles it: the count read no longer tells whose
// write came first, and the watch from the write's resourceVersion does.
func TestAnotherReplicasCountBeforeTheSettlingReadIsToldApartByTheWatch(t *testing.T) {
	for _, fault := range []testenv.WriteFault{testenv.AnswerLost, testenv.NotSent} {
		t.Run(fault.String(), func(t *testing.T) {
			ns := env.Namespace(t)
			other, _ := newPipeline(t, ns, env.Client)
			s := &sender{t: t}
			f := &testenv.FaultyWrites{
				Fault: func(n int64) testenv.WriteFault {
					if n == 2 {
						return fault
					}
					return testenv.Untouched
				},
				After: func(int64, testenv.WriteFault) { s.send(other, ns, "web") },
			}
			p, m := faultyPipeline(t, ns, f, Options{})
			for range 3 {
				s.send(p, ns, "web")
			}
			if got := storedCount(t, ns, "web"); got != s.answered.Load() || got != 4 {
				t.Errorf("stored count %d, answered as counted %d; want 4 (3 here, 1 by the other replica)", got, s.answered.Load())
			}
			if f.Watches.Load() == 0 {
				t.Error("no watch settled the write; the test no longer reaches the case it is about")
			}
			want := "landed"
			if fault == testenv.NotSent {
				want = "not_landed"
			}
			if settledValue(m, want) != 1 || settledValue(m, "unknown") != 0 {
				t.Errorf("settled: landed %v, not landed %v, unknown %v; want the one write %s",
					settledValue(m, "landed"), settledValue(m, "not_landed"), settledValue(m, "unknown"), want)
			}
		})
	}
}

// No API call starts after a signal's deadline: with every answer coming
// just inside the call timeout, a signal whose deadline passes during the
// create is answered when the create returns, not after a count and more.
func TestNoCallStartsAfterTheDeadline(t *testing.T) {
	ns := env.Namespace(t)
	const call = 800 * time.Millisecond
	f := &testenv.FaultyWrites{Delay: call * 9 / 10}
	// The index reads the API server directly, without the delay: what is
	// timed is the create and whatever would follow it.
	p, _ := faultyPipeline(t, ns, f, Options{CallTimeout: call, WebhookGuarded: true, Index: env.Client})
	sig, fp := testSignal(ns, "web")

	deadline := time.Now().Add(call / 2)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	_, err := p.Submit(ctx, sig)
	late := time.Since(deadline)
	if !errors.Is(err, ErrDeadline) {
		t.Fatalf("Submit error = %v, want ErrDeadline", err)
	}
	// The create started before the deadline and took 0.9 call timeouts;
	// the count that would follow it must not start.
	if late > call {
		t.Errorf("answered %s after the deadline, more than one call timeout (%s)", late.Round(time.Millisecond), call)
	}
	items := listRRs(t, ns, fp)
	if len(items) != 1 || items[0].Status.GetDeduplication().OccurrenceCount != 0 {
		t.Errorf("stored %d requests (%+v), want the created one with nothing counted", len(items), items)
	}
}
