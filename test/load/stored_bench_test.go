package load_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/counter"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/test/gatewaytest"
	"github.com/rrguard/rrguard/test/load"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
)

// storedSizes are the numbers of stored RemediationRequests
// BenchmarkStoredRRs measures at; RRGUARD_BENCH_STORED overrides them
// (comma-separated, ascending).
func storedSizes(b *testing.B) []int {
	s := os.Getenv("RRGUARD_BENCH_STORED")
	if s == "" {
		return []int{1000, 10000, 50000}
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			b.Fatalf("RRGUARD_BENCH_STORED=%q: %v", s, err)
		}
		out = append(out, n)
	}
	return out
}

// samples is how many sequential measurements each figure takes: enough
// that a p99 is the fifth-worst sample, not one pause of the API server.
const samples = 500

// BenchmarkStoredRRs measures how the cost of a decision grows with the
// RemediationRequests stored in the namespace (90% terminal, each its own
// fingerprint, as after months of incidents): webhook admission (as the
// handler times it, from its audit log, and as the creating client sees
// it) for a duplicate and a repeat incident of a known fingerprint (the
// claim path) and for a first incident (the List path); the gateway's
// duplicate path over HTTP; beside them, on the same data, the query-only
// lookup (the field-selector List the per-signal design runs for every
// signal), the claim lookup the gateway runs, and one status write. The
// namespace is filled with the webhook out of its reach (32 writers), then
// put under it for the measurements; sizes grow in one namespace.
//
//	go test -run '^$' -bench StoredRRs -benchtime 1x -timeout 60m ./test/load/
func BenchmarkStoredRRs(b *testing.B) {
	ctx := context.Background()
	ns := unguardedNamespace(b)
	stored := 0
	rows := map[int]map[string]time.Duration{}
	sizes := storedSizes(b)
	for _, size := range sizes {
		b.Run(fmt.Sprintf("stored=%d", size), func(b *testing.B) {
			start := time.Now()
			fill(b, ns, stored, size)
			b.Logf("filled %d to %d RemediationRequests in %s", stored, size, time.Since(start).Round(time.Second))
			stored = size
			guard(b, ns, true)
			defer guard(b, ns, false)
			b.ResetTimer()
			m := measureStored(b, ctx, ns, size)
			b.StopTimer()
			rows[size] = m
			for _, k := range storedFigures {
				b.ReportMetric(ms(m[k]), k+"-ms")
			}
			// The process's live heap: what grows with the stored requests
			// is, by far, the webhook's fingerprint index
			// (webhooktest.Index), one stripped copy of each.
			runtime.GC()
			var mem runtime.MemStats
			runtime.ReadMemStats(&mem)
			b.ReportMetric(float64(mem.HeapAlloc)/(1<<20), "heap-MiB")
			// Growth against the smallest size, and the duplicate path
			// against one status write.
			b.ReportMetric(ratio(m["gw-dup-p50"], m["status-write-p50"]), "gw-dup/status-write-p50")
			if base, ok := rows[sizes[0]]; ok && size != sizes[0] {
				for _, k := range []string{"dup-admit-p99", "repeat-admit-p99", "first-admit-p99", "list-p50", "gw-dup-p50", "status-write-p99"} {
					b.ReportMetric(ratio(m[k], base[k]), fmt.Sprintf("x%d-%s", sizes[0], k))
				}
			}
		})
	}
}

var storedFigures = []string{
	"dup-admit-p50", "dup-admit-p99", "dup-create-p50",
	"repeat-admit-p50", "repeat-admit-p99", "repeat-create-p50",
	"first-admit-p50", "first-admit-p99", "first-create-p50",
	"list-p50", "list-p99", "claim-lookup-p50", "status-write-p50", "status-write-p99",
	"gw-dup-p50", "gw-dup-p99",
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

// fill stores RemediationRequests from..to-1 in ns, nine in ten of them
// Completed, with 32 writers.
func fill(b *testing.B, ns string, from, to int) {
	b.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	workqueue.ParallelizeUntil(ctx, 32, to-from, func(piece int) {
		if err := store(ns, from+piece); err != nil {
			cancel(err)
		}
	})
	if err := context.Cause(ctx); err != nil {
		b.Fatalf("fill: %v", err)
	}
}

// store stores the i-th request of the history, Completed unless i is a
// multiple of ten.
func store(ns string, i int) error {
	t := load.NewTarget("history", fmt.Sprintf("stored-%d", i))
	rr := storedRR(ns, fmt.Sprintf("stored-%d", i), t.Fingerprint)
	if err := env.Client.Create(context.Background(), rr); err != nil {
		return err
	}
	if i%10 == 0 {
		return nil
	}
	return testenv.SetPhase(context.Background(), env.Client, ns, rr.Name, v1alpha1.PhaseCompleted)
}

func storedRR(ns, name, fp string) *v1alpha1.RemediationRequest {
	rr := testenv.RemediationRequest(ns, name, fp)
	rr.Spec.SignalName = "KubeDeploymentReplicasMismatch"
	rr.Spec.TargetResource = v1alpha1.ResourceIdentifier{Kind: "Deployment", Name: name, Namespace: "history", APIVersion: "apps/v1"}
	rr.Spec.SignalLabels = map[string]string{"alertname": "KubeDeploymentReplicasMismatch", "namespace": "history", "deployment": name}
	return rr
}

// guard puts ns under the webhook (on) or out of its reach, and waits until
// the API server acts on it: a dry-run duplicate of an active probe request
// is denied exactly when the webhook guards.
func guard(b *testing.B, ns string, on bool) {
	b.Helper()
	ctx := context.Background()
	n := &corev1.Namespace{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: ns}, n); err != nil {
		b.Fatal(err)
	}
	if on {
		delete(n.Labels, webhooktest.UnguardedLabel)
	} else {
		n.Labels[webhooktest.UnguardedLabel] = "true"
	}
	if err := env.Client.Update(ctx, n); err != nil {
		b.Fatal(err)
	}
	probe := load.NewTarget("history", "probe")
	// Created once, while the namespace is still out of the webhook's
	// reach: a create of the same name under the webhook would be admitted
	// (and claimed) before storage refuses the name.
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "probe"}, &v1alpha1.RemediationRequest{}); apierrors.IsNotFound(err) {
		if err := env.Client.Create(ctx, storedRR(ns, "probe", probe.Fingerprint)); err != nil {
			b.Fatal(err)
		}
	} else if err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := env.Client.Create(ctx, storedRR(ns, "probe-dup", probe.Fingerprint), client.DryRunAll)
		if _, denied := dedup.DenialFromError(err); denied == on {
			return
		}
		if time.Now().After(deadline) {
			_ = env.Client.Get(ctx, client.ObjectKey{Name: ns}, n)
			for _, l := range bytes.Split(hook.AuditLog(), []byte("\n")) {
				if bytes.Contains(l, []byte("probe")) {
					b.Logf("audit: %s", l)
				}
			}
			b.Fatalf("labels %v: the webhook did not turn %v for %s within 30s (last answer %v)", n.Labels, on, ns, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// measureStored takes every figure of storedFigures at the current size.
func measureStored(b *testing.B, ctx context.Context, ns string, size int) map[string]time.Duration {
	b.Helper()
	out := map[string]time.Duration{}
	auditFrom := len(hook.AuditLog())
	timed := func(f func() error) time.Duration {
		t0 := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	name := func(kind string, i int) string { return fmt.Sprintf("%s-%d-%d", kind, size, i) }
	targets := make([]load.Target, samples)
	for i := range targets {
		targets[i] = load.NewTarget("measured", fmt.Sprintf("incident-%d-%d", size, i))
	}

	// First incidents: no claim, the List decides. With
	// RRGUARD_BENCH_PROFILE_DIR set, kube-apiserver's CPU profile of the
	// first 10 seconds of them is written there (first-admit-<size>.pprof).
	var first, dup, repeat []time.Duration
	profiled := profileAPIServer(b, env.Config, fmt.Sprintf("first-admit-%d", size), 10)
	for i, t := range targets {
		first = append(first, timed(func() error { return env.Client.Create(ctx, storedRR(ns, name("first", i), t.Fingerprint)) }))
	}
	profiled()
	// Duplicates of them: the claim and its holder decide.
	for i, t := range targets {
		dup = append(dup, timed(func() error {
			err := env.Client.Create(ctx, storedRR(ns, name("dup", i), t.Fingerprint))
			if d, ok := dedup.DenialFromError(err); !ok || d.Reason != dedup.ReasonDuplicate {
				return fmt.Errorf("duplicate create: %v, want a Duplicate denial", err)
			}
			return nil
		}))
	}
	// The incidents end; new incidents of the same fingerprints take the
	// claims over.
	for i := range targets {
		if err := testenv.SetPhase(ctx, env.Client, ns, name("first", i), v1alpha1.PhaseCompleted); err != nil {
			b.Fatal(err)
		}
	}
	for i, t := range targets {
		repeat = append(repeat, timed(func() error { return env.Client.Create(ctx, storedRR(ns, name("repeat", i), t.Fingerprint)) }))
	}
	admit := admissionLatencies(b, hook.AuditLog()[auditFrom:], ns)
	pick := func(kind string) []time.Duration {
		var ds []time.Duration
		for i := range targets {
			if d, ok := admit[name(kind, i)]; ok {
				ds = append(ds, d)
			}
		}
		if len(ds) != samples {
			b.Fatalf("%d audit lines for %s admissions, want %d", len(ds), kind, samples)
		}
		return ds
	}
	for _, kind := range []string{"first", "dup", "repeat"} {
		out[kind+"-admit-p50"] = load.Quantile(pick(kind), .50)
		out[kind+"-admit-p99"] = load.Quantile(pick(kind), .99)
	}
	out["first-create-p50"] = load.Quantile(first, .50)
	out["dup-create-p50"] = load.Quantile(dup, .50)
	out["repeat-create-p50"] = load.Quantile(repeat, .50)

	// Query-only lookups on the same data, and the claim lookup.
	var list, lookup []time.Duration
	for _, t := range targets {
		list = append(list, timed(func() error {
			_, err := dedup.ListByFingerprint(ctx, env.Client, ns, t.Fingerprint)
			return err
		}))
		lookup = append(lookup, timed(func() error {
			res, err := dedup.Resolver{Reader: env.Client}.Resolve(ctx, ns, t.Fingerprint, "")
			if err == nil && !res.Active() {
				err = fmt.Errorf("claim lookup of %s found no active holder", t.Deployment)
			}
			return err
		}))
	}
	out["list-p50"], out["list-p99"] = load.Quantile(list, .50), load.Quantile(list, .99)
	out["claim-lookup-p50"] = load.Quantile(lookup, .50)

	// One status write, alone: the gateway's count.
	var writes []time.Duration
	rr := &v1alpha1.RemediationRequest{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name("repeat", 0)}, rr); err != nil {
		b.Fatal(err)
	}
	for range samples {
		writes = append(writes, timed(func() error {
			count := int64(rr.Status.GetDeduplication().OccurrenceCount) + 1
			return env.Client.Status().Patch(ctx, rr, counter.DeduplicationPatch(rr.ResourceVersion, count, time.Now(), time.Now()))
		}))
	}
	out["status-write-p50"] = load.Quantile(writes, .50)
	// The control for every p99 here: a request whose cost cannot depend
	// on the stored requests, through the same API server at the same size.
	out["status-write-p99"] = load.Quantile(writes, .99)

	// The gateway's duplicate path: signals about an incident that has its
	// request, one at a time, over HTTP.
	gw, err := gatewaytest.Start(gatewaytest.Options{Config: env.Config, Scheme: env.Scheme, Namespace: ns})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = gw.Stop() }()
	t := load.NewTarget("measured", fmt.Sprintf("gateway-%d", size))
	var gwDup []time.Duration
	for i := range samples + 1 {
		r := load.Send(ctx, httpClient, gw.URL, "", t, load.Payload(t))
		if !r.OK() {
			b.Fatalf("gateway signal: %d %v", r.Code, r.Err)
		}
		if i > 0 {
			gwDup = append(gwDup, r.Latency)
		}
	}
	out["gw-dup-p50"], out["gw-dup-p99"] = load.Quantile(gwDup, .50), load.Quantile(gwDup, .99)
	b.Logf("stored=%d: %v", size, out)
	return out
}

// admissionLatencies returns the handler's own latency per request name in
// ns, from the webhook's audit log.
func admissionLatencies(b *testing.B, audit []byte, ns string) map[string]time.Duration {
	b.Helper()
	out := map[string]time.Duration{}
	sc := bufio.NewScanner(bytes.NewReader(audit))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			Namespace      string   `json:"namespace"`
			Name           string   `json:"name"`
			DryRun         bool     `json:"dryRun"`
			LatencySeconds *float64 `json:"latencySeconds"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.LatencySeconds == nil || l.Namespace != ns || l.DryRun {
			continue
		}
		out[l.Name] = time.Duration(*l.LatencySeconds * float64(time.Second))
	}
	return out
}
