package load_test

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/test/baseline"
	"github.com/rrguard/rrguard/test/gatewaytest"
	"github.com/rrguard/rrguard/test/load"
)

// run is one scenario run on one variant.
type run struct {
	res      *load.Result
	requests int64
	check    load.Check
	cpu      cpuUse
}

func (r run) requestsPerSignal() float64 { return float64(r.requests) / float64(len(r.res.Responses)) }

// runGateway runs the scenario against a fresh rrguard gateway (the real
// manager, pipeline and signal API) in a fresh namespace the webhook guards,
// run as the manifests deploy it (--webhook-guarded), unless
// RRGUARD_BENCH_LIST_FIRST=true asks for the List before each new incident.
func runGateway(b *testing.B, o load.Options) run {
	b.Helper()
	return runGatewayIn(b, env.Namespace(b), os.Getenv("RRGUARD_BENCH_LIST_FIRST") != "true", o)
}

// runGatewayIn runs the scenario against a fresh gateway in ns.
func runGatewayIn(b *testing.B, ns string, guarded bool, o load.Options) run {
	b.Helper()
	gw, err := gatewaytest.Start(gatewaytest.Options{Config: env.Config, Scheme: env.Scheme, Namespace: ns, WebhookGuarded: guarded})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = gw.Stop() }()
	o.URL = gw.URL
	name := "rrguard"
	if !guarded {
		name = "rrguard-unguarded"
	}
	return measure(b, ns, name, o, gw.APIRequests)
}

// measure runs o against o.URL, where variant serves ns, checks the result on
// the API server and clears ns; requests reads the variant's count of API
// requests so far.
func measure(b *testing.B, ns, variant string, o load.Options, requests func() int64) run {
	b.Helper()
	wait := profileRun(b, o, variant)
	cpu := cpuNow(b)
	before := requests()
	res, err := load.Run(context.Background(), o)
	if err != nil {
		b.Fatal(err)
	}
	cpu = cpuNow(b).sub(cpu)
	n := requests() - before
	wait()
	c, err := load.Verify(context.Background(), env.Client, ns, res.Counted())
	if err != nil {
		b.Fatal(err)
	}
	clearRun(b, ns)
	return run{res: res, requests: n, check: c, cpu: cpu}
}

// profileRun profiles the API server during a scenario run (not a warm-up)
// for 20 s, or for the scenario's expected length where that is shorter.
func profileRun(b *testing.B, o load.Options, variant string) (wait func()) {
	if o.Scenario == "" {
		return func() {}
	}
	return profileAPIServer(b, env.Config, fmt.Sprintf("%s-%s", o.Scenario, variant), 20)
}

// clearRun deletes what a run stored in ns once it is checked and compacts
// etcd, so that the next run meets the API server and etcd as this one did.
func clearRun(b *testing.B, ns string) {
	b.Helper()
	ctx := context.Background()
	if err := env.Client.DeleteAllOf(ctx, &v1alpha1.RemediationRequest{}, client.InNamespace(ns)); err != nil {
		b.Fatalf("delete the run's requests: %v", err)
	}
	if err := env.Client.DeleteAllOf(ctx, &coordinationv1.Lease{}, client.InNamespace(ns)); err != nil {
		b.Fatalf("delete the run's claims: %v", err)
	}
	if err := env.CompactEtcd(ctx); err != nil {
		b.Fatalf("compact etcd after the run: %v", err)
	}
}

// runBaseline runs the scenario against the per-signal baseline served by
// the gateway's own signal API, in a fresh namespace the webhook does not
// guard.
func runBaseline(b *testing.B, o load.Options) run {
	b.Helper()
	ns := unguardedNamespace(b)
	var requests atomic.Int64
	o.URL = serveBaseline(b, ns, &requests)
	return measure(b, ns, "baseline", o, requests.Load)
}

// serveBaseline serves the baseline counter for ns through the gateway's
// signal API, with its own client whose requests add to requests (when
// given), until the test ends; it returns the URL.
func serveBaseline(t testing.TB, ns string, requests ...*atomic.Int64) string {
	t.Helper()
	n := &atomic.Int64{}
	if len(requests) > 0 {
		n = requests[0]
	}
	c, err := client.New(gatewaytest.CountRequests(env.Config, n), client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return gatewaytest.ServeCounter(t, &baseline.Counter{Client: c, Namespace: ns, Targets: gatewaytest.Targets(t, env.Config, c)})
}

// runKubernaut runs the scenario against kubernaut's own per-signal design
// (test/baseline.KubernautCounter: lock Lease, List, create or count,
// release), served by the same signal API, in a fresh namespace the webhook
// does not guard — kubernaut runs without one.
func runKubernaut(b *testing.B, o load.Options) run {
	b.Helper()
	ns := unguardedNamespace(b)
	var requests atomic.Int64
	c, err := client.New(gatewaytest.CountRequests(env.Config, &requests), client.Options{Scheme: env.Scheme})
	if err != nil {
		b.Fatal(err)
	}
	o.URL = gatewaytest.ServeCounter(b, &baseline.KubernautCounter{Client: c, Namespace: ns, Targets: gatewaytest.Targets(b, env.Config, c)})
	return measure(b, ns, "kubernaut", o, requests.Load)
}

// variant is one design the scenarios measure.
type variant struct {
	name string
	run  func(*testing.B, load.Options) run
}

// scenarioVariants are compared in every scenario: rrguard, the unguarded
// per-signal baseline, and kubernaut's own design.
var scenarioVariants = []variant{
	{"baseline", runBaseline},
	{"kubernaut", runKubernaut},
	{"rrguard", runGateway},
}

// benchRounds is how many times each variant runs per scenario
// (RRGUARD_BENCH_ROUNDS, default 3); the figures reported are each
// variant's median run by signals/s.
func benchRounds(b *testing.B) int {
	s := os.Getenv("RRGUARD_BENCH_ROUNDS")
	if s == "" {
		return 3
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("RRGUARD_BENCH_ROUNDS=%q: want a positive integer", s)
	}
	return n
}

// median returns the run with the median signals/s.
func median(runs []run) run {
	sorted := slices.Clone(runs)
	slices.SortFunc(sorted, func(a, c run) int {
		return cmp.Compare(a.res.SignalsPerSecond(), c.res.SignalsPerSecond())
	})
	return sorted[len(sorted)/2]
}

// BenchmarkScenarios drives three designs over HTTP with the same load in
// the same run — storm (5,000 signals about 1 fingerprint), spread (5,000
// about 5,000), mixed (5,000 about 50, Zipf s=1.1), 64 at a time — and
// checks each on the API server: rrguard (the real gateway under the
// webhook), the unguarded per-signal baseline (test/baseline.Counter)
// and kubernaut's own design (test/baseline.KubernautCounter), both
// served by the same signal API in namespaces the webhook does not guard.
//
// Order matters: run after run on one control plane, the same code gets
// slower (etcd's history grows between compactions). So each scenario runs
// RRGUARD_BENCH_ROUNDS rounds (default 3), the order of the three variants
// rotated by one each round, and each variant's median run is reported.
// rrguard's figures are also reported as ratios to the baseline's (x-*)
// and to kubernaut's (k-*). API requests are counted client-side on each
// variant's transport; the webhook's own claim reads and writes are not in
// them, its CPU is (this process).
//
// RRGUARD_BENCH_SCENARIOS (comma-separated) runs a subset.
//
//	go test -run '^$' -bench Scenarios -benchtime 1x -timeout 120m ./test/load/
func BenchmarkScenarios(b *testing.B) {
	// Warm the process (discovery, connections), not the data.
	for _, v := range scenarioVariants {
		v.run(b, load.Options{Signals: 1, Concurrency: 1})
	}
	rounds := benchRounds(b)
	for _, sc := range benchScenarios() {
		b.Run(string(sc), func(b *testing.B) {
			o := load.Options{Scenario: sc, Signals: 5000, Concurrency: 64, Fingerprints: 50}
			if err := env.CompactEtcd(context.Background()); err != nil {
				b.Fatal(err)
			}
			runs := map[string][]run{}
			for range b.N {
				for r := range rounds {
					for i := range scenarioVariants {
						v := scenarioVariants[(i+r)%len(scenarioVariants)]
						runs[v.name] = append(runs[v.name], v.run(b, o))
					}
				}
			}
			for _, r := range runs["rrguard"] {
				if err := r.check.Err(); err != nil {
					b.Errorf("rrguard: %s: %v", r.check, err)
				}
				if c := r.res.Codes(); c[201]+c[202] != o.Signals {
					b.Errorf("rrguard answered %v, want every signal 201 or 202", c)
				}
			}
			reportScenario(b, o, median(runs["baseline"]), median(runs["kubernaut"]), median(runs["rrguard"]))
		})
	}
}

// reportScenario logs and reports one scenario's medians.
func reportScenario(b *testing.B, o load.Options, base, kn, rr run) {
	for _, v := range []struct {
		name string
		r    run
	}{{"baseline ", base}, {"kubernaut", kn}, {"rrguard  ", rr}} {
		b.Logf("%s: %s; %.3f API requests/signal; %s; %s", v.name, v.r.res.Summary(), v.r.requestsPerSignal(), v.r.check, v.r.cpu.perSignal(o.Signals))
	}
	msf := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	apiCPU := func(r run) float64 { return float64(r.cpu.apiserver) / float64(o.Signals) }
	b.ReportMetric(rr.res.SignalsPerSecond(), "signals/s")
	b.ReportMetric(msf(rr.res.Latency(.50)), "p50-ms")
	b.ReportMetric(msf(rr.res.Latency(.99)), "p99-ms")
	b.ReportMetric(rr.requestsPerSignal(), "apireq/signal")
	b.ReportMetric(float64(rr.check.RemediationRequests)/float64(rr.check.Fingerprints), "RRs/fp")
	for _, v := range []struct {
		prefix string
		r      run
	}{{"base", base}, {"kn", kn}} {
		b.ReportMetric(v.r.res.SignalsPerSecond(), v.prefix+"-signals/s")
		b.ReportMetric(msf(v.r.res.Latency(.99)), v.prefix+"-p99-ms")
		b.ReportMetric(v.r.requestsPerSignal(), v.prefix+"-apireq/signal")
		b.ReportMetric(float64(v.r.check.RemediationRequests)/float64(v.r.check.Fingerprints), v.prefix+"-RRs/fp")
		b.ReportMetric(float64(v.r.check.Answered2xx-v.r.check.Stored), v.prefix+"-lost-counts")
	}
	for _, v := range []struct {
		prefix string
		r      run
	}{{"x", base}, {"k", kn}} {
		b.ReportMetric(rr.res.SignalsPerSecond()/v.r.res.SignalsPerSecond(), v.prefix+"-signals/s")
		b.ReportMetric(float64(rr.res.Latency(.99))/float64(v.r.res.Latency(.99)), v.prefix+"-p99")
		b.ReportMetric(rr.requestsPerSignal()/v.r.requestsPerSignal(), v.prefix+"-apireq/signal")
		b.ReportMetric(apiCPU(rr)/apiCPU(v.r), v.prefix+"-apiserver-cpu/signal")
	}
}

// benchScenarios are the scenarios BenchmarkScenarios runs:
// RRGUARD_BENCH_SCENARIOS, or all.
func benchScenarios() []load.Scenario {
	s := os.Getenv("RRGUARD_BENCH_SCENARIOS")
	if s == "" {
		return load.Scenarios
	}
	var out []load.Scenario
	for _, f := range strings.Split(s, ",") {
		out = append(out, load.Scenario(strings.TrimSpace(f)))
	}
	return out
}
