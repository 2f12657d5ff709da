package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/counter"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/gateway/scope"
	"github.com/rrguard/rrguard/gateway/signal"
	"github.com/rrguard/rrguard/gateway/target"
	"github.com/rrguard/rrguard/test/testenv"
)

var (
	env *testenv.Env
	// writer writes to env's API server with its sends counted, as the
	// gateway's pipeline does (CountSends).
	writer client.WithWatch
)

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.Options{}, func(e *testenv.Env) {
		env = e
		var err error
		if writer, err = countedClient(e); err != nil {
			panic(err)
		}
	})
}

// countedClient is a client of e's API server over a transport of its own
// that counts the pipeline's sends.
func countedClient(e *testenv.Env) (client.WithWatch, error) {
	cfg := rest.CopyConfig(e.Config)
	cfg.Wrap(counter.CountSends)
	return client.NewWithWatch(cfg, client.Options{Scheme: e.Scheme})
}

// countingReader counts the reads that reach the API server.
type countingReader struct {
	client.Reader
	gets, lists atomic.Int64
}

func (r *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	r.gets.Add(1)
	return r.Reader.Get(ctx, key, obj, opts...)
}

func (r *countingReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	r.lists.Add(1)
	return r.Reader.List(ctx, list, opts...)
}

func (r *countingReader) reads() int64 { return r.gets.Load() + r.lists.Load() }

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

func testSignal(ns, name string) (*signal.Signal, string) {
	s := &signal.Signal{
		Name:     "KubeDeploymentReplicasMismatch",
		Severity: "critical",
		Source:   signal.SourcePrometheus,
		Target:   v1alpha1.ResourceIdentifier{Kind: "Deployment", Namespace: ns, Name: name, APIVersion: "apps/v1"},
		Labels:   map[string]string{"alertname": "KubeDeploymentReplicasMismatch", "deployment": name, "namespace": ns},
	}
	fp, err := s.Fingerprint()
	if err != nil {
		panic(err)
	}
	return s, fp
}

func newPipeline(t testing.TB, ns string, reader client.Reader) (*Pipeline, *Metrics) {
	t.Helper()
	m := NewMetrics(prometheus.NewRegistry())
	p, err := New(reader, writer, Options{Namespace: ns, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	return p, m
}

func listRRs(t testing.TB, ns, fp string) []v1alpha1.RemediationRequest {
	t.Helper()
	items, err := dedup.ListByFingerprint(context.Background(), env.Client, ns, fp)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func submit(t *testing.T, p *Pipeline, sig *signal.Signal) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := p.Submit(ctx, sig)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	return res
}

// fixture is one test's pipeline in a namespace of its own, reading
// through a counting reader, and the signal it is fed.
type fixture struct {
	ns     string
	reader *countingReader
	p      *Pipeline
	m      *Metrics
	sig    *signal.Signal
	fp     string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{ns: env.Namespace(t), reader: &countingReader{Reader: env.Client}}
	f.p, f.m = newPipeline(t, f.ns, f.reader)
	f.sig, f.fp = testSignal(f.ns, "web")
	return f
}

// submit submits the fixture's signal, failing t on an error.
func (f *fixture) submit(t *testing.T) Result {
	t.Helper()
	return submit(t, f.p, f.sig)
}

func TestFirstSignalCreatesARequestCountedOnce(t *testing.T) {
	f := newFixture(t)

	res := f.submit(t)
	if res.Outcome != OutcomeCreated || res.OccurrenceCount != 1 || res.Fingerprint != f.fp {
		t.Fatalf("result = %+v, want created with count 1", res)
	}
	items := listRRs(t, f.ns, f.fp)
	if len(items) != 1 {
		t.Fatalf("%d requests for the fingerprint, want 1", len(items))
	}
	rr := items[0]
	if rr.Name != res.RemediationRequest.Name {
		t.Errorf("response names %s, stored request is %s", res.RemediationRequest.Name, rr.Name)
	}
	d := rr.Status.GetDeduplication()
	if d.OccurrenceCount != 1 || d.FirstSeenAt == nil || d.LastSeenAt == nil {
		t.Errorf("deduplication status = %+v, want count 1 with both times", d)
	}
	if rr.Spec.SignalName != f.sig.Name || rr.Spec.TargetResource != f.sig.Target || rr.Spec.SignalType != signal.SignalTypeAlert {
		t.Errorf("spec = %+v, not built from the signal", rr.Spec)
	}
}

func TestRepeatedSignalIsCountedWithoutARead(t *testing.T) {
	f := newFixture(t)

	first := f.submit(t)
	before := f.reader.reads()
	second := f.submit(t)
	if got := f.reader.reads() - before; got != 0 {
		t.Errorf("the hot path made %d reads, want 0", got)
	}
	if second.Outcome != OutcomeDuplicate || second.OccurrenceCount != 2 || second.RemediationRequest != first.RemediationRequest {
		t.Errorf("second result = %+v, want duplicate with count 2 on %s", second, first.RemediationRequest)
	}
	if n := listRRs(t, f.ns, f.fp)[0].Status.GetDeduplication().OccurrenceCount; n != 2 {
		t.Errorf("stored occurrenceCount = %d, want 2", n)
	}
}

func TestAChangedRequestIsLookedUpAgainAndStillCounted(t *testing.T) {
	f := newFixture(t)

	first := f.submit(t)
	// The remediation moves on: the remembered resourceVersion is stale.
	testenv.MustSetPhase(t, env.Client, f.ns, first.RemediationRequest.Name, v1alpha1.PhaseExecuting)

	before := f.reader.reads()
	res := f.submit(t)
	if res.Outcome != OutcomeDuplicate || res.OccurrenceCount != 2 || res.RemediationRequest != first.RemediationRequest {
		t.Errorf("result = %+v, want duplicate with count 2 on %s", res, first.RemediationRequest)
	}
	if got := counterValue(f.m.Conflicts); got != 1 {
		t.Errorf("conflicts = %v, want 1", got)
	}
	if f.reader.reads() == before {
		t.Error("the pipeline did not read the changed request again")
	}
	if rr := listRRs(t, f.ns, f.fp)[0]; rr.Status.GetDeduplication().OccurrenceCount != 2 || rr.Status.OverallPhase != v1alpha1.PhaseExecuting {
		t.Errorf("stored status = %+v, want count 2 and the phase kept", rr.Status)
	}
}

func TestAnEndedRequestIsNotCountedOnAndANewOneIsCreated(t *testing.T) {
	f := newFixture(t)

	first := f.submit(t)
	testenv.MustSetPhase(t, env.Client, f.ns, first.RemediationRequest.Name, v1alpha1.PhaseCompleted)

	res := f.submit(t)
	if res.Outcome != OutcomeCreated || res.OccurrenceCount != 1 || res.RemediationRequest == first.RemediationRequest {
		t.Fatalf("result = %+v, want a new request created with count 1", res)
	}
	if n := len(listRRs(t, f.ns, f.fp)); n != 2 {
		t.Errorf("%d requests, want the ended one and the new one", n)
	}
}

func TestTheClaimIsReadBeforeAnyList(t *testing.T) {
	f := newFixture(t)

	// A request created elsewhere, and the webhook's claim naming it.
	holder := signal.NewRemediationRequest(f.ns, f.fp, f.sig, time.Now())
	if err := env.Client.Create(context.Background(), holder); err != nil {
		t.Fatal(err)
	}
	claim(t, f.ns, f.fp, holder.Name)

	res := f.submit(t)
	if res.Outcome != OutcomeDuplicate || res.RemediationRequest.Name != holder.Name || res.OccurrenceCount != 1 {
		t.Errorf("result = %+v, want duplicate with count 1 on the claim's holder %s", res, holder.Name)
	}
	if got := f.reader.lists.Load(); got != 0 {
		t.Errorf("%d Lists with a claim present, want 0", got)
	}
}

func TestConcurrentSignalsOfOneFingerprintAreCoalesced(t *testing.T) {
	f := newFixture(t)

	const n = 50
	results := make([]Result, n)
	errs := make([]error, n)
	testenv.AtOnce(n, func(i int) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		results[i], errs[i] = f.p.Submit(ctx, f.sig)
	})

	created := 0
	seen := map[int64]bool{}
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("signal %d: %v", i, errs[i])
		}
		if r.Outcome == OutcomeCreated {
			created++
		}
		if seen[r.OccurrenceCount] {
			t.Errorf("occurrence %d given to two signals", r.OccurrenceCount)
		}
		seen[r.OccurrenceCount] = true
	}
	if created != 1 {
		t.Errorf("%d signals answered created, want 1", created)
	}
	items := listRRs(t, f.ns, f.fp)
	if len(items) != 1 || items[0].Status.GetDeduplication().OccurrenceCount != n {
		t.Fatalf("stored: %d requests, want 1 counting %d", len(items), n)
	}
	if got := counterValue(f.m.Coalesced); got == 0 {
		t.Error("no signal was coalesced onto another's write")
	}
}

func TestASignalPastItsDeadlineIsNotCounted(t *testing.T) {
	f := newFixture(t)

	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err := f.p.Submit(ctx, f.sig)
	if !errors.Is(err, ErrDeadline) {
		t.Fatalf("Submit error = %v, want ErrDeadline", err)
	}
	if n := len(listRRs(t, f.ns, f.fp)); n != 0 {
		t.Errorf("%d requests written for a signal past its deadline", n)
	}
}

// failingReader fails every read, as an unreachable API server would.
type failingReader struct{ client.Reader }

func (failingReader) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return fmt.Errorf("dial tcp 127.0.0.1:1: connect: connection refused")
}

func TestAnUnreachableAPIServerIsReportedAsUnavailable(t *testing.T) {
	ns := env.Namespace(t)
	p, _ := newPipeline(t, ns, failingReader{env.Client})
	sig, fp := testSignal(ns, "web")
	if _, err := p.Submit(context.Background(), sig); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Submit error = %v, want ErrUnavailable", err)
	}
	if n := len(listRRs(t, ns, fp)); n != 0 {
		t.Errorf("%d requests written while reads failed", n)
	}
}

type targetsFunc func(*signal.Signal) (target.Resolution, error)

func (f targetsFunc) Resolve(_ context.Context, sig *signal.Signal) (target.Resolution, error) {
	return f(sig)
}

// TestSubmitResolvesAndFingerprintsTheTarget: the fingerprint is the
// resolved target's, a signal whose object is gone is ignored with the
// reason, and a target that cannot be resolved or fingerprinted is
// answered without a write.
func TestSubmitResolvesAndFingerprintsTheTarget(t *testing.T) {
	ns := env.Namespace(t)
	toOwner := targetsFunc(func(sig *signal.Signal) (target.Resolution, error) {
		return target.Resolution{Target: v1alpha1.ResourceIdentifier{Kind: "Deployment", Namespace: sig.Target.Namespace, Name: "web", APIVersion: "apps/v1"}}, nil
	})
	down := targetsFunc(func(*signal.Signal) (target.Resolution, error) {
		return target.Resolution{}, errors.New("get Pod metadata: connection refused")
	})
	gone := targetsFunc(func(*signal.Signal) (target.Resolution, error) {
		return target.Resolution{Ignored: "Pod is gone"}, nil
	})
	_, ownerFP := testSignal(ns, "web")
	tests := map[string]struct {
		targets     Targets
		target      v1alpha1.ResourceIdentifier
		wantErr     error
		wantFP      string
		wantIgnored string
	}{
		"a Pod is counted as its controller": {
			targets: toOwner, target: v1alpha1.ResourceIdentifier{Kind: "Pod", Namespace: ns, Name: "web-7d9f-x2x4z"}, wantFP: ownerFP,
		},
		"a target that cannot be resolved asks for a retry": {
			targets: down, target: v1alpha1.ResourceIdentifier{Kind: "Pod", Namespace: ns, Name: "web-7d9f-x2x4z"}, wantErr: ErrUnavailable,
		},
		"a signal about an object that is gone is ignored": {
			targets: gone, target: v1alpha1.ResourceIdentifier{Kind: "Pod", Namespace: ns, Name: "web-7d9f-x2x4z"}, wantIgnored: "Pod is gone",
		},
		"a target without a kind cannot be fingerprinted": {
			target: v1alpha1.ResourceIdentifier{Namespace: ns, Name: "web"}, wantErr: signal.ErrInvalid,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := New(env.Client, writer, Options{Namespace: ns, Targets: tc.targets})
			if err != nil {
				t.Fatal(err)
			}
			sig, _ := testSignal(ns, "web")
			sig.Target = tc.target
			res, err := p.Submit(context.Background(), sig)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Submit error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantIgnored != "" {
				if res.Outcome != OutcomeIgnored || res.Reason != tc.wantIgnored || res.Fingerprint != "" {
					t.Errorf("result %+v, want ignored for %q", res, tc.wantIgnored)
				}
				return
			}
			if res.Fingerprint != tc.wantFP {
				t.Errorf("fingerprint %s, want the controller's %s", res.Fingerprint, tc.wantFP)
			}
			rr := &v1alpha1.RemediationRequest{}
			if err := env.Client.Get(context.Background(), res.RemediationRequest, rr); err != nil {
				t.Fatal(err)
			}
			if rr.Spec.TargetResource.Kind != "Deployment" || rr.Spec.SignalFingerprint != tc.wantFP {
				t.Errorf("stored target %+v fingerprint %s, want the Deployment's", rr.Spec.TargetResource, rr.Spec.SignalFingerprint)
			}
		})
	}
	if n := len(listRRs(t, ns, ownerFP)); n != 1 {
		t.Errorf("%d requests stored for the controller, want the 1 counted", n)
	}
}

// Without the webhook, the gateway's lookup is on the API server — the
// claim, else the List — and it applies kubernaut's suppression rules
// there too: an ended request that suppresses keeps its signals, and once
// it stops, the next signal creates a new request.
func TestAnEndedRequestKeepsItsSignalsWhileItSuppresses(t *testing.T) {
	for name, claimed := range map[string]bool{"found by the List": false, "named by its claim": true} {
		t.Run(name, func(t *testing.T) {
			ns := env.Namespace(t)
			ctx := context.Background()
			sig, fp := testSignal(ns, "web")
			first := submit(t, newPipelineOnly(t, ns), sig).RemediationRequest
			if claimed {
				claim(t, ns, fp, first.Name)
			}
			if err := testenv.SetStatus(ctx, env.Client, ns, first.Name, map[string]any{
				"overallPhase": "Failed", "routingStatus": map[string]any{"nextAllowedExecution": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
			}); err != nil {
				t.Fatal(err)
			}
			// A replica that never saw the fingerprint.
			if res := submit(t, newPipelineOnly(t, ns), sig); res.Outcome != OutcomeDuplicate || res.RemediationRequest != first || res.OccurrenceCount != 2 {
				t.Fatalf("in the backoff window: %+v, want counted second on %s", res, first.Name)
			}
			if err := testenv.SetStatus(ctx, env.Client, ns, first.Name, map[string]any{
				"routingStatus": map[string]any{"nextAllowedExecution": time.Now().Add(-time.Second).UTC().Format(time.RFC3339)},
			}); err != nil {
				t.Fatal(err)
			}
			if res := submit(t, newPipelineOnly(t, ns), sig); res.Outcome != OutcomeCreated || res.RemediationRequest == first {
				t.Fatalf("after the window: %+v, want a new request", res)
			}
		})
	}
}

func newPipelineOnly(t *testing.T, ns string) *Pipeline {
	p, _ := newPipeline(t, ns, env.Client)
	return p
}

// claim stores the webhook's claim on fp for the request name.
func claim(t *testing.T, ns, fp, name string) {
	t.Helper()
	rr := &v1alpha1.RemediationRequest{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, rr); err != nil {
		t.Fatal(err)
	}
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: dedup.ClaimName(fp),
			Annotations: map[string]string{dedup.HolderUIDAnnotation: string(rr.UID), dedup.FingerprintAnnotation: fp}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(rr.Name)},
	}
	if err := env.Client.Create(context.Background(), lease); err != nil {
		t.Fatal(err)
	}
}

// panickingReader panics on a read of anything named for fp, as a bug
// would on one signal.
type panickingReader struct {
	client.Reader
	fp string
}

func (r panickingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if strings.Contains(key.Name, r.fp) {
		panic("a bug met while counting " + r.fp)
	}
	return r.Reader.Get(ctx, key, obj, opts...)
}

// TestAPanicCountingOneFingerprintFailsOnlyItsSignals: before the recovery,
// the panic ended the test binary (the gateway process), taking every
// fingerprint's signals with it.
func TestAPanicCountingOneFingerprintFailsOnlyItsSignals(t *testing.T) {
	ns := env.Namespace(t)
	poisoned, poisonedFP := testSignal(ns, "poisoned")
	p, m := newPipeline(t, ns, panickingReader{Reader: env.Client, fp: poisonedFP})

	for range 2 {
		if _, err := p.Submit(context.Background(), poisoned); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Submit of the poisoned signal: %v, want ErrUnavailable", err)
		}
	}
	healthy, healthyFP := testSignal(ns, "healthy")
	if res := submit(t, p, healthy); res.Outcome != OutcomeCreated || res.Fingerprint != healthyFP {
		t.Errorf("the other fingerprint: %+v, want created", res)
	}
	if got := counterValue(m.Panics); got != 2 {
		t.Errorf("panics counted %v, want 2", got)
	}
	if n := len(listRRs(t, ns, poisonedFP)); n != 0 {
		t.Errorf("%d requests written for the poisoned signal", n)
	}
}

type scopeFunc func(v1alpha1.ResourceIdentifier) (scope.Verdict, error)

func (f scopeFunc) Check(_ context.Context, _ string, t v1alpha1.ResourceIdentifier) (scope.Verdict, error) {
	return f(t)
}

// The scope is asked about the resolved target, and only a target in scope
// is counted: out of scope is an answer (ignored, with the reason), a scope
// that cannot be read is ErrUnavailable; neither writes anything.
func TestSubmitCountsOnlyTargetsInScope(t *testing.T) {
	toOwner := targetsFunc(func(sig *signal.Signal) (target.Resolution, error) {
		return target.Resolution{Target: v1alpha1.ResourceIdentifier{Kind: "Deployment", Namespace: sig.Target.Namespace, Name: "web", APIVersion: "apps/v1"}}, nil
	})
	tests := map[string]struct {
		verdict scope.Verdict
		err     error
		want    Outcome
		wantErr error
	}{
		"in scope is counted":            {verdict: scope.Verdict{Managed: true}, want: OutcomeCreated},
		"out of scope is ignored":        {verdict: scope.Verdict{Reason: "namespace x is labelled kubernaut.ai/managed=false"}, want: OutcomeIgnored},
		"an unreadable scope is a retry": {err: errors.New("get Namespace metadata: connection refused"), wantErr: ErrUnavailable},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ns := env.Namespace(t)
			var asked v1alpha1.ResourceIdentifier
			check := scopeFunc(func(t v1alpha1.ResourceIdentifier) (scope.Verdict, error) { asked = t; return tc.verdict, tc.err })
			p, err := New(env.Client, env.Client, Options{Namespace: ns, Targets: toOwner, Scope: check})
			if err != nil {
				t.Fatal(err)
			}
			sig, fp := testSignal(ns, "web")
			sig.Target = v1alpha1.ResourceIdentifier{Kind: "Pod", Namespace: ns, Name: "web-7d9f-x2x4z"}
			res, err := p.Submit(context.Background(), sig)
			if asked.Kind != "Deployment" {
				t.Errorf("the scope was asked about %+v, want the resolved Deployment", asked)
			}
			if res.Fingerprint != fp {
				t.Errorf("fingerprint %q, want the Deployment's %s", res.Fingerprint, fp)
			}
			if tc.wantErr != nil || err != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Submit error = %v, want %v", err, tc.wantErr)
				}
			} else if res.Outcome != tc.want || (tc.want == OutcomeIgnored && !strings.HasSuffix(res.Reason, tc.verdict.Reason)) {
				t.Errorf("result = %+v, want %s with the scope's reason", res, tc.want)
			}
			want := 0
			if tc.want == OutcomeCreated {
				want = 1
			}
			if n := len(listRRs(t, ns, fp)); n != want {
				t.Errorf("%d requests stored, want %d", n, want)
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
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(counter.CountSends)
	cfg.Wrap(f.Wrap)
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(env.Client, c, Options{Namespace: ns, CallTimeout: call, WebhookGuarded: true, Index: env.Client})
	if err != nil {
		t.Fatal(err)
	}
	sig, fp := testSignal(ns, "web")

	deadline := time.Now().Add(call / 2)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	_, err = p.Submit(ctx, sig)
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
