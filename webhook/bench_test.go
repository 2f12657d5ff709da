package webhook_test

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/test/load"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
)

// BenchmarkAdmission measures admission latency on the real API server, as
// the handler itself times it (the audit log's latencySeconds) and as the
// creating client sees it (the whole create, storage and client-go's
// retries included):
//
//	go test -run '^$' -bench Admission -benchtime 100x ./webhook   (part of make bench)
//
// Every replica reads namespace labels as the binary does, from an informer
// (webhooktest.NamespaceCache), not with a request per denial.
func BenchmarkAdmission(b *testing.B) {
	namespaces := webhooktest.NamespaceCache(b, env)
	b.Run("uncontended", func(b *testing.B) {
		ns := env.Namespace(b)
		r := suite.Replicas(b, 1, webhooktest.Options{Namespaces: namespaces})
		var client []time.Duration
		b.ResetTimer()
		for range b.N {
			start := time.Now()
			if err := create(context.Background(), testenv.RemediationRequest(ns, "", newFingerprint(b)), false); err != nil {
				b.Fatal(err)
			}
			client = append(client, time.Since(start))
		}
		b.StopTimer()
		report(b, admissionLatencies(b, r...), client)
	})
	// 32 simultaneous creates of one fingerprint over two replicas,
	// created as a new user would (client-go's own retries after a 429
	// included), against the same 32 creates in a namespace the webhook
	// does not guard, round for round in the same run (the order
	// alternating): the p99 ratio is what the guarantee costs a creator.
	b.Run("32-simultaneous-one-fingerprint-2-replicas/vs-no-webhook", func(b *testing.B) {
		guarded, unguarded := env.Namespace(b), webhooktest.UnguardedNamespace(b, env)
		r := suite.Replicas(b, 2, webhooktest.Options{Namespaces: namespaces})
		var rrguard, none []time.Duration
		b.ResetTimer()
		for i := range b.N {
			if i%2 == 0 {
				none = append(none, burst(b, unguarded, 32)...)
			}
			rrguard = append(rrguard, burst(b, guarded, 1)...)
			if i%2 == 1 {
				none = append(none, burst(b, unguarded, 32)...)
			}
		}
		b.StopTimer()
		report(b, admissionLatencies(b, r...), rrguard)
		p99, base := load.Quantile(rrguard, .99), load.Quantile(none, .99)
		b.ReportMetric(float64(base)/float64(time.Millisecond), "no-webhook-create-p99-ms")
		b.ReportMetric(float64(p99)/float64(base), "create-p99-vs-no-webhook")
		logBreakdown(b, r...)
	})
	// The same burst decided with the Coalescer (as deployed) and with the
	// bare Guard, one after the other in one run: the ratio is what
	// coalescing buys.
	for _, v := range []struct {
		name string
		opts webhooktest.Options
	}{
		{"32-simultaneous-one-fingerprint-2-replicas/coalesced", webhooktest.Options{Namespaces: namespaces}},
		{"32-simultaneous-one-fingerprint-2-replicas/guard-only", webhooktest.Options{Namespaces: namespaces, GuardOnly: true}},
	} {
		b.Run(v.name, func(b *testing.B) {
			ns := env.Namespace(b)
			r := suite.Replicas(b, 2, v.opts)
			var client []time.Duration
			b.ResetTimer()
			for range b.N {
				client = append(client, burst(b, ns, 1)...)
			}
			b.StopTimer()
			report(b, admissionLatencies(b, r...), client)
			logBreakdown(b, r...)
		})
	}
}

// burst creates 32 RRs of one fresh fingerprint in ns at once, with
// client-go's retries, and returns each create's time as its client saw
// it; want is how many must be admitted (1 where the webhook guards ns, 32
// where it does not).
func burst(b *testing.B, ns string, want int) []time.Duration {
	fp := newFingerprint(b)
	gate := make(chan struct{})
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		took     []time.Duration
		admitted int
	)
	for range 32 {
		wg.Go(func() {
			<-gate
			start := time.Now()
			err := env.Client.Create(context.Background(), testenv.RemediationRequest(ns, "", fp))
			d := time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			took = append(took, d)
			if err == nil {
				admitted++
			} else if _, ok := dedup.DenialFromError(err); !ok {
				b.Error(err)
			}
		})
	}
	close(gate)
	wg.Wait()
	if admitted != want {
		b.Fatalf("%d of 32 creates admitted in %s, want %d", admitted, ns, want)
	}
	return took
}

// logBreakdown logs the decision time by kind of verdict: what the tail is
// made of.
func logBreakdown(b *testing.B, rs ...*webhooktest.Server) {
	by := map[string][]time.Duration{}
	for _, r := range rs {
		for _, l := range auditLines(b, r) {
			if l.LatencySeconds == nil {
				continue
			}
			k := l.Reason + "/" + l.ClaimAction
			if l.Coalesced != nil && *l.Coalesced {
				k += "/coalesced"
			}
			by[k] = append(by[k], time.Duration(*l.LatencySeconds*float64(time.Second)))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(by)) {
		ds := by[k]
		b.Logf("%-32s n=%5d p50 %6.1f ms p99 %6.1f ms", k, len(ds),
			float64(load.Quantile(ds, .5))/1e6, float64(load.Quantile(ds, .99))/1e6)
	}
}

func admissionLatencies(b *testing.B, rs ...*webhooktest.Server) []time.Duration {
	var out []time.Duration
	for _, r := range rs {
		for _, l := range auditLines(b, r) {
			if l.LatencySeconds != nil {
				out = append(out, time.Duration(*l.LatencySeconds*float64(time.Second)))
			}
		}
	}
	return out
}

func report(b *testing.B, admission, client []time.Duration) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(load.Quantile(admission, .50)), "admit-p50-ms")
	b.ReportMetric(ms(load.Quantile(admission, .99)), "admit-p99-ms")
	b.ReportMetric(ms(load.Quantile(client, .50)), "create-p50-ms")
	b.ReportMetric(ms(load.Quantile(client, .99)), "create-p99-ms")
}
