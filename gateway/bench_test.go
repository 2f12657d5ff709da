package gateway_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/gateway/httpapi"
	"github.com/rrguard/rrguard/gateway/pipeline"
	"github.com/rrguard/rrguard/gateway/signal"
	"github.com/rrguard/rrguard/test/baseline"
)

// BenchmarkSignals measures signals per second and per-signal latency
// (p50, p99) of the pipeline beside the per-signal baseline (test/baseline:
// an uncached List, then a create or a conflict-retried status update, per
// signal, no coalescing), in the same run, on the real API server:
//
//   - OneFingerprint: 2,000 identical signals, 64 at a time;
//   - DistinctFingerprints: 2,000 signals about 2,000 different targets,
//     64 at a time.
//
// The pipeline runs where the webhook guards (every create pays an
// admission call); the baseline runs where it does not, because under the
// webhook its duplicate creates would be denied and fail. The third
// variant, pipeline-unguarded, runs the pipeline where the webhook does not
// guard, to tell the pipeline's own cost from the webhook's; it is a
// diagnostic, not a deployment (one gateway alone, no backstop). Each iteration
// starts cold, in a fresh namespace, after one warm-up signal per process.
// Run it with
//
//	go test -run '^$' -bench BenchmarkSignals -benchtime 2x ./gateway/
func BenchmarkSignals(b *testing.B) {
	const signals, concurrency = 2000, 64
	workloads := []struct {
		name         string
		fingerprints int
	}{
		{"OneFingerprint", 1},
		{"DistinctFingerprints", signals},
	}
	// Warm the process, not the data: the first API call of a process
	// pays for discovery and connection setup (about 2 s here), which
	// would land on whichever variant ran first.
	warm, err := pipeline.New(env.Client, env.Client, pipeline.Options{Namespace: env.Namespace(b)})
	if err != nil {
		b.Fatal(err)
	}
	runLoad(warm, 1, 1, 1)
	runLoad(&baseline.Counter{Client: env.Client, Namespace: unguardedNamespace(b)}, 1, 1, 1)

	for _, wl := range workloads {
		for _, variant := range []string{"pipeline", "baseline", "pipeline-unguarded"} {
			b.Run(fmt.Sprintf("%s/%s", wl.name, variant), func(b *testing.B) {
				var latencies []time.Duration
				var elapsed time.Duration
				var requests, failures int64
				for range b.N {
					b.StopTimer()
					var ns string
					var counter httpapi.Counter
					if variant == "pipeline" {
						ns = env.Namespace(b)
						p, err := pipeline.New(env.Client, env.Client, pipeline.Options{Namespace: ns})
						if err != nil {
							b.Fatal(err)
						}
						counter = p
					} else if variant == "baseline" {
						ns = unguardedNamespace(b)
						counter = &baseline.Counter{Client: env.Client, Namespace: ns}
					} else {
						ns = unguardedNamespace(b)
						p, err := pipeline.New(env.Client, env.Client, pipeline.Options{Namespace: ns})
						if err != nil {
							b.Fatal(err)
						}
						counter = p
					}
					b.StartTimer()
					lat, took, failed := runLoad(counter, signals, wl.fingerprints, concurrency)
					b.StopTimer()
					latencies = append(latencies, lat...)
					elapsed += took
					failures += failed
					requests += countRRs(b, ns)
				}
				sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
				total := float64(b.N * signals)
				b.ReportMetric(total/elapsed.Seconds(), "signals/s")
				b.ReportMetric(ms(latencies[len(latencies)/2]), "p50-ms")
				b.ReportMetric(ms(latencies[len(latencies)*99/100]), "p99-ms")
				b.ReportMetric(float64(requests)/float64(b.N*wl.fingerprints), "RRs/incident")
				b.ReportMetric(float64(failures)/float64(b.N), "failed/run")
			})
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// runLoad submits n signals about fingerprints targets, concurrency at a
// time, and returns each signal's latency, the wall time, and how many
// failed.
func runLoad(counter httpapi.Counter, n, fingerprints, concurrency int) ([]time.Duration, time.Duration, int64) {
	type job struct {
		sig *signal.Signal
		fp  string
	}
	jobs := make([]job, fingerprints)
	for i := range jobs {
		name := fmt.Sprintf("app-%04d", i)
		sig := &signal.Signal{
			Name: "KubeDeploymentReplicasMismatch", Severity: "critical", Source: signal.SourcePrometheus,
			Target: v1alpha1.ResourceIdentifier{Kind: "Deployment", Namespace: "bench", Name: name, APIVersion: "apps/v1"},
		}
		fp, err := sig.Fingerprint()
		if err != nil {
			panic(err)
		}
		jobs[i] = job{sig: sig, fp: fp}
	}
	latencies := make([]time.Duration, n)
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				j := jobs[i%fingerprints]
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				t0 := time.Now()
				if _, err := counter.Submit(ctx, j.sig); err != nil {
					failed.Add(1)
				}
				latencies[i] = time.Since(t0)
				cancel()
			}
		})
	}
	wg.Wait()
	return latencies, time.Since(start), failed.Load()
}

func countRRs(b *testing.B, ns string) int64 {
	list := &v1alpha1.RemediationRequestList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		b.Fatal(err)
	}
	return int64(len(list.Items))
}
