package gateway_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/gateway/httpapi"
	"github.com/rrguard/rrguard/gateway/pipeline"
	"github.com/rrguard/rrguard/test/gatewaytest"
	"github.com/rrguard/rrguard/test/testenv"
)

// servePipeline serves a pipeline reading through r, naming targets as
// the gateway does, with the real signal API until the test ends, and
// returns its URL.
func servePipeline(t *testing.T, r client.Reader, o pipeline.Options) string {
	t.Helper()
	o.Targets = gatewaytest.Targets(t, env.Config, env.Client)
	p, err := pipeline.New(r, env.Client, o)
	if err != nil {
		t.Fatal(err)
	}
	return gatewaytest.ServeCounter(t, p)
}

// emptyIndex stands for an index that has not yet seen the request the
// test is about, as one a watch event behind the API server has not: it
// finds nothing.
type emptyIndex struct{ client.Reader }

func (emptyIndex) List(context.Context, client.ObjectList, ...client.ListOption) error { return nil }

// serveGuarded serves a pipeline with WebhookGuarded set in ns, looking
// fingerprints up in index and sending its counting's API requests through
// c; it names targets reading through a client of its own, so that c
// records the decisions' requests alone.
func serveGuarded(t *testing.T, ns string, index client.Reader, c client.WithWatch) string {
	t.Helper()
	p, err := pipeline.New(c, c, pipeline.Options{Namespace: ns, WebhookGuarded: true, Index: index, Targets: gatewaytest.Targets(t, env.Config, env.Client)})
	if err != nil {
		t.Fatal(err)
	}
	return gatewaytest.ServeCounter(t, p)
}

// unclaimedActive stores an active request for fp with no claim, as one
// created while the webhook was not guarding would be.
func unclaimedActive(t *testing.T, ns, fp string) *v1alpha1.RemediationRequest {
	t.Helper()
	ctx := context.Background()
	rr := testenv.RemediationRequest(ns, "unclaimed", fp)
	if err := env.Client.Create(ctx, rr); err != nil {
		t.Fatal(err)
	}
	claim := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: dedup.ClaimName(fp)}}
	if err := client.IgnoreNotFound(env.Client.Delete(ctx, claim)); err != nil {
		t.Fatal(err)
	}
	return rr
}

func postAlert(t *testing.T, url, ns, deployment string) (response, httpapi.SignalResponse) {
	t.Helper()
	r, err := post(url, httpapi.PrometheusPath, "application/json", alertmanagerPayload(alert(ns, deployment)))
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != http.StatusCreated && r.Code != http.StatusAccepted {
		t.Fatalf("answered %d %s, want 201 or 202", r.Code, r.Body)
	}
	return r, r.signal(t)
}

// With the webhook guarding, a request the gateway's index has not seen
// yet is still found: the webhook's Duplicate denial names it, unclaimed
// as it is, and the signal is counted there. No claim is read, nothing
// Listed.
func TestWebhookGuardedGatewayCountsOnAHolderItsIndexMissed(t *testing.T) {
	ns := env.Namespace(t)
	holder := unclaimedActive(t, ns, fingerprintOf("payments", "api"))
	c, reqs := env.RecordingClient(t)
	url := serveGuarded(t, ns, emptyIndex{}, c)

	r, s := postAlert(t, url, "payments", "api")
	if r.Code != http.StatusAccepted || s.RemediationRequest.Name != holder.Name || s.OccurrenceCount != 1 {
		t.Fatalf("response %d %s, want 202 counted once on %s", r.Code, r.Body, holder.Name)
	}
	if r, _ := postAlert(t, url, "payments", "worker"); r.Code != http.StatusCreated {
		t.Fatalf("new incident: %d %s, want 201", r.Code, r.Body)
	}
	for _, req := range reqs.Take() {
		if strings.HasPrefix(req, "list ") || strings.Contains(req, "leases") {
			t.Errorf("the gateway sent %s; a guarded gateway reads no claim and Lists nothing", req)
		}
	}
	if n := len(listRRs(t, ns)); n != 2 {
		t.Fatalf("%d requests stored, want the unclaimed holder and the new incident's", n)
	}
}

// Why WebhookGuarded needs the webhook: where none guards, the same
// lagging index makes the gateway create a second active request beside
// the one it missed.
func TestWebhookGuardedWithoutTheWebhookCreatesADuplicate(t *testing.T) {
	ns := unguardedNamespace(t)
	unclaimedActive(t, ns, fingerprintOf("payments", "api"))
	url := serveGuarded(t, ns, emptyIndex{}, env.Client)

	r, _ := postAlert(t, url, "payments", "api")
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

// The API requests of each decision of a guarded gateway, exactly: a new
// incident is a create and its count, and a fingerprint this replica never
// saw but the index holds — active, or ended and suppressing — is one
// count. Nothing is read before a write; the write proves what the index
// said.
func TestWebhookGuardedGatewayRequestsPerDecision(t *testing.T) {
	ns := env.Namespace(t)
	index := gatewaytest.StartIndex(t, env.Config, env.Scheme, ns)
	c, reqs := env.RecordingClient(t)
	url := serveGuarded(t, ns, index, c)
	other := servePipeline(t, env.Client, pipeline.Options{Namespace: ns})
	count := []string{"patch remediationrequests/status"}

	_, created := postAlert(t, url, "payments", "api")
	if got, want := reqs.Take(), []string{"create remediationrequests", "patch remediationrequests/status"}; !slices.Equal(got, want) {
		t.Errorf("a new incident cost %v, want %v", got, want)
	}
	postAlert(t, url, "payments", "api")
	if got := reqs.Take(); !slices.Equal(got, count) {
		t.Errorf("a repeat cost %v, want %v", got, count)
	}

	// Incidents this replica never saw, held by requests another made.
	_, active := postAlert(t, other, "payments", "worker")
	_, ended := postAlert(t, other, "payments", "db")
	if err := testenv.SetStatus(context.Background(), env.Client, ns, ended.RemediationRequest.Name, map[string]any{
		"overallPhase": "Failed", "completionStatus": map[string]any{"outcome": v1alpha1.OutcomeManualReviewRequired},
	}); err != nil {
		t.Fatal(err)
	}
	waitIndexed(t, index, ns, active.RemediationRequest.Name, "")
	waitIndexed(t, index, ns, ended.RemediationRequest.Name, v1alpha1.PhaseFailed)
	for _, held := range []struct {
		deployment string
		holder     httpapi.SignalResponse
	}{{"worker", active}, {"db", ended}} {
		r, s := postAlert(t, url, "payments", held.deployment)
		if r.Code != http.StatusAccepted || s.RemediationRequest.Name != held.holder.RemediationRequest.Name || s.OccurrenceCount != 2 {
			t.Errorf("%s: answered %d %s, want 202 counted second on %s", held.deployment, r.Code, r.Body, held.holder.RemediationRequest.Name)
		}
		if got := reqs.Take(); !slices.Equal(got, count) {
			t.Errorf("%s: a fingerprint held elsewhere cost %v, want %v", held.deployment, got, count)
		}
	}
	if created.RemediationRequest == nil {
		t.Fatal("the new incident's answer names no request")
	}
}

// waitIndexed waits until index holds ns/name in phase.
func waitIndexed(t *testing.T, index client.Reader, ns, name string, phase v1alpha1.Phase) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rr := &v1alpha1.RemediationRequest{}
		err := index.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, rr)
		if err == nil && rr.Status.OverallPhase == phase {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the index did not see %s/%s in phase %s: %v", ns, name, phase, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
