package webhook_test

import (
	"context"
	"slices"
	"testing"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
)

// What each decision costs the API server, request by request, on the real
// control plane: the table of docs/design.md, section 5. The claim is
// created before anything is read, so a fresh fingerprint costs two
// requests; reading first (claim Get, List, claim create) cost three.
func TestAPIRequestsPerDecision(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	fp := newFingerprint(t)
	c, reqs := env.RecordingClient(t)
	suite.Replace(t, webhooktest.Options{Client: c})

	want := func(what string, got []string, want ...string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: the webhook made %q, want %q", what, got, want)
		}
	}

	a := testenv.RemediationRequest(ns, "a", fp)
	if err := create(ctx, a, false); err != nil {
		t.Fatalf("create a: %v", err)
	}
	// Step C2 looks in the replica's fingerprint index, in memory.
	want("a fresh fingerprint", reqs.Take(), "create leases")

	wantDuplicate(t, create(ctx, testenv.RemediationRequest(ns, "b", fp), false), a, "<none>")
	want("a duplicate, the claim known to this replica", reqs.Take(), "get leases", "get remediationrequests")

	if err := updatePhase(a, v1alpha1.PhaseCompleted); err != nil {
		t.Fatal(err)
	}
	want("a status update that does not reactivate (never sent to the webhook)", reqs.Take())

	next := testenv.RemediationRequest(ns, "next", fp)
	if err := create(ctx, next, false); err != nil {
		t.Fatalf("create next: %v", err)
	}
	want("the next incident of a known fingerprint", reqs.Take(), "get leases", "get remediationrequests", "update leases")

	// Another replica, which has never seen this claim.
	c2, reqs2 := env.RecordingClient(t)
	suite.Replace(t, webhooktest.Options{Client: c2})
	wantDuplicate(t, create(ctx, testenv.RemediationRequest(ns, "d", fp), false), next, "<none>")
	want("a duplicate, the claim new to this replica", reqs2.Take(),
		"create leases", "get leases", "get remediationrequests")
}
