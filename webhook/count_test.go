package webhook_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/counter"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/gateway/pipeline"
	"github.com/rrguard/rrguard/gateway/signal"
	"github.com/rrguard/rrguard/internal/auditlog"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
	"github.com/rrguard/rrguard/webhook"
)

// kubernautGateway is kubernaut's gateway as the API server knows it.
const kubernautGateway = "system:serviceaccount:" + kubernautNamespace + ":gateway"

// countingReplicas serves two replicas that deny kubernaut's creators
// AlreadyExists and count their denied creates with counter (the real one,
// webhook.NewCounter, when nil).
func countingReplicas(t *testing.T, counter webhook.Counter) []*webhooktest.Server {
	return suite.Replicas(t, 2, webhooktest.Options{Webhook: webhook.Options{
		CountedCreators: webhook.KubernautCreators(kubernautNamespace), Counter: counter,
	}})
}

// kubernautClient is a client that acts as kubernaut's gateway, retries
// included (client-go's, as kubernaut's controller-runtime client has).
func kubernautClient(t testing.TB) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: kubernautGateway, Groups: []string{"system:masters", "system:authenticated"}}
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// createAsKubernaut creates rr as kubernaut's gateway does: AlreadyExists
// is the end of it (kubernaut answers 201 and counts nothing); a create
// that went through has its count initialised as kubernaut initialises it
// (none → 1, else one more), read and written again on a conflict.
func createAsKubernaut(ctx context.Context, c client.Client, rr *v1alpha1.RemediationRequest) (created bool, err error) {
	if err := c.Create(ctx, rr); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return false, nil
		}
		return false, err
	}
	return true, retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		cur := &v1alpha1.RemediationRequest{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(rr), cur); err != nil {
			return err
		}
		now := metav1.Now()
		if cur.Status.Deduplication == nil {
			cur.Status.Deduplication = &v1alpha1.DeduplicationStatus{FirstSeenAt: &now}
		}
		cur.Status.Deduplication.OccurrenceCount++
		cur.Status.Deduplication.LastSeenAt = &now
		return c.Status().Update(ctx, cur)
	})
}

// kubernautStorm creates n requests of fp at once as kubernaut's gateway
// and returns the one active request; every create must be created or
// AlreadyExists.
func kubernautStorm(t *testing.T, c client.Client, ns, fp string, n int) *v1alpha1.RemediationRequest {
	t.Helper()
	var created atomic.Int64
	testenv.AtOnce(n, func(i int) {
		ok, err := createAsKubernaut(context.Background(), c, testenv.RemediationRequest(ns, fmt.Sprintf("k-%s-%d", fp[:8], i), fp))
		if err != nil {
			t.Errorf("create %d: %v", i, err)
		}
		if ok {
			created.Add(1)
		}
	})
	names := webhooktest.ActiveNames(t, env.Client, ns, fp)
	if created.Load() != 1 || len(names) != 1 {
		t.Fatalf("%d created, active %v; want exactly one", created.Load(), names)
	}
	rr := &v1alpha1.RemediationRequest{}
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: names[0]}, rr); err != nil {
		t.Fatal(err)
	}
	return rr
}

func occurrences(rr *v1alpha1.RemediationRequest) int32 {
	return rr.Status.GetDeduplication().OccurrenceCount
}

// TestDeniedCreatesOfKubernautAreCountedOnTheHolder: 32 creates of one
// incident at once by a kubernaut-like creator over two replicas make one
// request whose count is 32 — the create kubernaut counts itself, and the
// 31 the webhook denied, each counted once by the webhook on the holder.
// The naive count — read the holder, write count+1 without a
// resourceVersion — loses counts under the same load; the test shows it.
func TestDeniedCreatesOfKubernautAreCountedOnTheHolder(t *testing.T) {
	const n, rounds = 32, 3
	kc := kubernautClient(t)
	t.Run("conditioned", func(t *testing.T) {
		replicas := countingReplicas(t, nil)
		ns := env.Namespace(t)
		for range rounds {
			rr := kubernautStorm(t, kc, ns, newFingerprint(t), n)
			if got := occurrences(rr); got != n {
				t.Errorf("occurrenceCount %d after %d creates, want %d", got, n, n)
			}
			var counted int
			for _, r := range replicas {
				for _, l := range auditLines(t, r) {
					if l.Fingerprint == rr.Spec.SignalFingerprint && l.Count == "counted" {
						counted++
					}
				}
			}
			if counted != n-1 {
				t.Errorf("%d audit lines say counted, want %d", counted, n-1)
			}
		}
	})
	t.Run("naive", func(t *testing.T) {
		replicas := countingReplicas(t, naiveCounter{})
		ns := env.Namespace(t)
		lost := 0
		for range rounds {
			if got := occurrences(kubernautStorm(t, kc, ns, newFingerprint(t), n)); got < n {
				lost++
			}
		}
		for _, r := range replicas {
			for _, l := range auditLines(t, r) {
				if l.Count == "failed" {
					t.Fatalf("a naive count failed (%s): the load, not a broken write, must lose counts", l.CountError)
				}
			}
		}
		if lost == 0 {
			t.Errorf("the naive count lost nothing in %d rounds: the load does not show what the conditioned write guards against", rounds)
		}
		t.Logf("the naive count lost signals in %d of %d rounds", lost, rounds)
	})
}

// naiveCounter reads the holder and writes its count plus one, without a
// resourceVersion: two at once both write the same count.
type naiveCounter struct{}

func (naiveCounter) Count(ctx context.Context, key types.NamespacedName) (counter.Counted, error) {
	// Not the webhook's bound on a count: a slow machine must not fail it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	rr := &v1alpha1.RemediationRequest{}
	if err := env.Client.Get(ctx, key, rr); err != nil {
		return counter.Counted{}, err
	}
	n := int64(occurrences(rr)) + 1
	patch := fmt.Sprintf(`{"status":{"deduplication":{"occurrenceCount":%d,"lastSeenAt":%q}}}`, n, time.Now().UTC().Format(time.RFC3339))
	if err := env.Client.Status().Patch(ctx, rr, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		return counter.Counted{}, err
	}
	return counter.Counted{RemediationRequest: key, OccurrenceCount: n}, nil
}

// TestADeniedCreateIsCountedOncePerRequest: the API server asking again
// about a request UID whose denial was counted (here: each such review
// handed to the real handler a second time, as a re-sent AdmissionReview
// reaches it after the first answer was lost) is counted once; a dry run
// is denied the same and counted never.
func TestADeniedCreateIsCountedOncePerRequest(t *testing.T) {
	audit := &testenv.Buffer{}
	real, _, err := webhooktest.NewHandler(env, webhooktest.Options{Webhook: webhook.Options{
		CountedCreators: webhook.KubernautCreators(kubernautNamespace),
		Audit:           auditlog.New(audit),
	}})
	if err != nil {
		t.Fatal(err)
	}
	var asked atomic.Int64
	suite.Replace(t, webhooktest.Options{Handler: admission.HandlerFunc(func(ctx context.Context, req admission.Request) admission.Response {
		resp := real.Handle(ctx, req)
		if !resp.Allowed && resp.Result != nil && resp.Result.Reason == metav1.StatusReasonAlreadyExists {
			// Lost on its way back: the same review again.
			asked.Add(1)
			return real.Handle(ctx, req)
		}
		return resp
	})})
	ns := env.Namespace(t)
	fp := newFingerprint(t)
	rr := kubernautStorm(t, kubernautClient(t), ns, fp, 8)
	if got := occurrences(rr); got != 8 {
		t.Errorf("occurrenceCount %d after 8 creates each asked about twice, want 8", got)
	}
	if asked.Load() != 7 {
		t.Fatalf("the handler was asked twice about %d denied creates, want 7", asked.Load())
	}

	err = as(t, kubernautGateway).Create(context.Background(), testenv.RemediationRequest(ns, "dry", fp), true)
	if !apierrors.IsAlreadyExists(err) {
		t.Fatalf("dry run: %v, want AlreadyExists", err)
	}
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(rr), rr); err != nil {
		t.Fatal(err)
	}
	if got := occurrences(rr); got != 8 {
		t.Errorf("occurrenceCount %d after a dry run, want 8: a dry run writes nothing", got)
	}
	var again, dry int
	for _, l := range parseAudit(t, audit.Bytes()) {
		switch {
		case l.Fingerprint == fp && l.Count == "alreadyCounted":
			again++
		case l.Name == "dry" && l.DryRun:
			dry++
			if l.Count != "none" {
				t.Errorf("dry run audited count %q, want none", l.Count)
			}
		}
	}
	if again != 7 || dry != 2 {
		t.Errorf("%d audit lines alreadyCounted (want 7) and %d of the dry run asked twice (want 2)", again, dry)
	}
}

// TestRRGuardsGatewayIsNotCountedTwice: rrguard's own gateway reads the
// denial and counts on the holder itself, so the webhook must not count its
// denied creates. Two gateway replicas and kubernaut's gateway hit one
// incident at once: the one request counts every signal exactly once.
func TestRRGuardsGatewayIsNotCountedTwice(t *testing.T) {
	const k, m, rounds = 12, 12, 3
	replicas := countingReplicas(t, nil)
	ns := env.Namespace(t)
	var gateways [2]*pipeline.Pipeline
	for i := range gateways {
		p, err := pipeline.New(env.Client, env.Client, pipeline.Options{Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		gateways[i] = p
	}
	kc := kubernautClient(t)
	gatewayDenied := 0
	for round := range rounds {
		target := dedup.Target{Namespace: ns, Kind: "Deployment", Name: fmt.Sprintf("mixed-%d", round)}
		fp, err := dedup.Fingerprint(target)
		if err != nil {
			t.Fatal(err)
		}
		var kubernautCreated atomic.Int64
		testenv.AtOnce(k+m, func(i int) {
			if i < k {
				ok, err := createAsKubernaut(context.Background(), kc, testenv.RemediationRequest(ns, fmt.Sprintf("k-%d-%d", round, i), fp))
				if err != nil {
					t.Errorf("kubernaut's create: %v", err)
				}
				if ok {
					kubernautCreated.Add(1)
				}
				return
			}
			sig := &signal.Signal{Source: signal.SourcePrometheus, Name: "Mixed", Severity: "critical", Payload: "{}", Target: v1alpha1.ResourceIdentifier{Kind: target.Kind, Name: target.Name, Namespace: ns}}
			if _, err := gateways[i%2].Submit(context.Background(), sig); err != nil {
				t.Errorf("rrguard's gateway: %v", err)
			}
		})
		names := webhooktest.ActiveNames(t, env.Client, ns, fp)
		if len(names) != 1 {
			t.Fatalf("round %d: active %v, want one", round, names)
		}
		rr := &v1alpha1.RemediationRequest{}
		if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: names[0]}, rr); err != nil {
			t.Fatal(err)
		}
		if got := occurrences(rr); got != k+m {
			t.Errorf("round %d: occurrenceCount %d, want %d (%d signals of rrguard's gateway, %d creates of kubernaut's)", round, got, k+m, m, k)
		}
		for _, r := range replicas {
			for _, l := range auditLines(t, r) {
				if l.Fingerprint != fp || l.Reason != "Duplicate" || l.User == kubernautGateway {
					continue
				}
				gatewayDenied++
				if l.Count != "none" {
					t.Errorf("rrguard's gateway's denied create audited count %q, want none", l.Count)
				}
			}
		}
	}
	if gatewayDenied == 0 {
		t.Errorf("rrguard's gateway had no create denied in %d rounds: the test did not reach what it is about", rounds)
	}
}
