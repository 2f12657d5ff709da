package gateway_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/gateway/httpapi"
	"github.com/rrguard/rrguard/gateway/pipeline"
	"github.com/rrguard/rrguard/internal/gatewaytest"
)

// listCounter counts the Lists read through it.
type listCounter struct {
	client.Reader
	lists atomic.Int32
}

func (r *listCounter) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	r.lists.Add(1)
	return r.Reader.List(ctx, list, opts...)
}

// servePipeline serves a pipeline reading through r with the real signal
// API until the test ends, and returns its URL.
func servePipeline(t *testing.T, r client.Reader, o pipeline.Options) string {
	t.Helper()
	p, err := pipeline.New(r, env.Client, o)
	if err != nil {
		t.Fatal(err)
	}
	return gatewaytest.ServeCounter(t, p)
}

// serveGuarded serves a pipeline with WebhookGuarded set in ns, reading
// through r.
func serveGuarded(t *testing.T, ns string, r *listCounter) string {
	t.Helper()
	return servePipeline(t, r, pipeline.Options{Namespace: ns, WebhookGuarded: true})
}

// unclaimedActive stores an active request for fp with no claim, as one
// created while the webhook was not guarding would be.
func unclaimedActive(t *testing.T, ns, fp string) *v1alpha1.RemediationRequest {
	t.Helper()
	ctx := context.Background()
	rr := &v1alpha1.RemediationRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "unclaimed"},
		Spec:       v1alpha1.RemediationRequestSpec{SignalFingerprint: fp, SignalName: "Manual"},
	}
	if err := env.Client.Create(ctx, rr); err != nil {
		t.Fatal(err)
	}
	claim := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: dedup.ClaimName(fp)}}
	if err := client.IgnoreNotFound(env.Client.Delete(ctx, claim)); err != nil {
		t.Fatal(err)
	}
	return rr
}

// With the webhook guarding, the gateway creates a new incident without a
// List of its own, and an unclaimed active request is still found: by the
// webhook's List, named in its Duplicate denial, and counted on.
func TestWebhookGuardedGatewayListsNothingAndStillCountsOnAnUnclaimedHolder(t *testing.T) {
	ns := env.Namespace(t)
	fp := fingerprintOf("payments", "api")
	holder := unclaimedActive(t, ns, fp)
	reader := &listCounter{Reader: env.Client}
	url := serveGuarded(t, ns, reader)

	r, err := post(url, httpapi.PrometheusPath, "application/json", alertmanagerPayload(alert("payments", "api")))
	if err != nil {
		t.Fatal(err)
	}
	if s := r.signal(t); r.Code != http.StatusAccepted || s.Status != "duplicate" || s.RemediationRequest.Name != holder.Name || s.OccurrenceCount != 1 {
		t.Fatalf("response %d %s, want 202 duplicate counted once on %s", r.Code, r.Body, holder.Name)
	}
	r, err = post(url, httpapi.PrometheusPath, "application/json", alertmanagerPayload(alert("payments", "worker")))
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != http.StatusCreated {
		t.Fatalf("new incident: %d %s, want 201", r.Code, r.Body)
	}
	if n := reader.lists.Load(); n != 0 {
		t.Errorf("the gateway Listed %d times, want 0", n)
	}
	items := listRRs(t, ns)
	if len(items) != 2 {
		t.Fatalf("%d requests stored, want the unclaimed holder and the new incident's", len(items))
	}
	for _, rr := range items {
		if rr.Name == holder.Name && rr.Status.Deduplication.OccurrenceCount != 1 {
			t.Errorf("holder counted %d times, want 1", rr.Status.Deduplication.OccurrenceCount)
		}
	}
}

// Why WebhookGuarded is off by default: where no webhook guards, the same
// gateway creates a second active request beside the unclaimed one.
func TestWebhookGuardedWithoutTheWebhookCreatesADuplicate(t *testing.T) {
	ns := unguardedNamespace(t)
	fp := fingerprintOf("payments", "api")
	unclaimedActive(t, ns, fp)
	url := serveGuarded(t, ns, &listCounter{Reader: env.Client})

	r, err := post(url, httpapi.PrometheusPath, "application/json", alertmanagerPayload(alert("payments", "api")))
	if err != nil {
		t.Fatal(err)
	}
	active := 0
	for _, rr := range listRRs(t, ns) {
		if dedup.IsActive(&rr) {
			active++
		}
	}
	if r.Code != http.StatusCreated || active != 2 {
		t.Fatalf("answered %d with %d active requests; the unguarded gateway was expected to create a duplicate (201, 2 active)", r.Code, active)
	}
}
