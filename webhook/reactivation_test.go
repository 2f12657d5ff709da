package webhook_test

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
	"github.com/rrguard/rrguard/webhook"
)

// A reactivation is admitted before it is stored. In between, the holder is
// stored in its terminal phase, and a create of the same fingerprint must not
// read that as "the incident is over". These tests put the control plane in
// exactly that state: the Guard the webhook decides with admits the
// reactivation (and takes the claim), and the update is not stored yet.

// admitReactivation admits rr's move back to an active phase as the webhook
// does, without storing it: rr is stored terminal, the claim is rr's.
func admitReactivation(t *testing.T, rr *v1alpha1.RemediationRequest) {
	t.Helper()
	g := webhook.NewGuard(env.Client, env.Client, webhook.Options{})
	v, err := g.Admit(context.Background(), dedup.Candidate{
		Namespace: rr.Namespace, Name: rr.Name, UID: rr.UID, Fingerprint: rr.Spec.SignalFingerprint,
		Reactivation: true, StoredResourceVersion: rr.ResourceVersion,
	}, false)
	if err != nil || !v.Allowed || v.Reason != dedup.ReasonReactivated {
		t.Fatalf("admit reactivation of %s: %+v, %v; want Reactivated", rr.Name, v, err)
	}
	wantHolder(t, rr.Namespace, rr.Spec.SignalFingerprint, rr)
}

// completed creates a request through the webhook and completes it.
func completed(t *testing.T, ns, name, fp string) *v1alpha1.RemediationRequest {
	t.Helper()
	rr := testenv.RemediationRequest(ns, name, fp)
	if err := create(context.Background(), rr, false); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if err := updatePhase(rr, v1alpha1.PhaseCompleted); err != nil {
		t.Fatalf("complete %s: %v", name, err)
	}
	return rr
}

func wantClaimInFlight(t *testing.T, err error, holder string) {
	t.Helper()
	if !apierrors.IsTooManyRequests(err) {
		t.Fatalf("err = %v, want 429 ClaimInFlight", err)
	}
	d, ok := dedup.DenialFromError(err)
	if !ok || d.Reason != dedup.ReasonClaimInFlight || d.Holder != holder {
		t.Errorf("DenialFromError = %+v, %v; want ClaimInFlight held by %s", d, ok, holder)
	}
}

func TestCreateWhileAReactivationIsAdmittedButNotStored(t *testing.T) {
	ctx := context.Background()
	setups := map[string]func(t *testing.T, ns, fp string) *v1alpha1.RemediationRequest{
		// The claim is still the reactivated request's, from its first
		// incident.
		"claim held by the request itself": func(t *testing.T, ns, fp string) *v1alpha1.RemediationRequest {
			return completed(t, ns, "a", fp)
		},
		// Another request held the claim since; the reactivation takes it
		// over.
		"claim taken over from another holder": func(t *testing.T, ns, fp string) *v1alpha1.RemediationRequest {
			a := completed(t, ns, "a", fp)
			c := completed(t, ns, "c", fp)
			wantHolder(t, ns, fp, c)
			return a
		},
	}
	for name, setup := range setups {
		t.Run(name, func(t *testing.T) {
			ns := env.Namespace(t)
			fp := newFingerprint(t)
			a := setup(t, ns, fp)
			admitReactivation(t, a)
			if got := (dedup.Claim{Lease: webhooktest.Claim(t, env.Client, ns, fp)}).PendingReactivation(); got != a.ResourceVersion {
				t.Fatalf("claim records pending resourceVersion %q, want %q", got, a.ResourceVersion)
			}

			// In the window: b must wait, not take the claim over.
			wantClaimInFlight(t, create(ctx, testenv.RemediationRequest(ns, "b", fp), false), a.Name)
			wantHolder(t, ns, fp, a)

			// The update is stored (the API server asks the webhook
			// again, which admits it: a holds the claim): b's retry is a
			// duplicate of a.
			if err := updatePhase(a, v1alpha1.PhaseProcessing); err != nil {
				t.Fatalf("store the reactivation: %v", err)
			}
			wantDuplicate(t, create(ctx, testenv.RemediationRequest(ns, "b", fp), false), a, "Processing")
			if got := webhooktest.ActiveNames(t, env.Client, ns, fp); len(got) != 1 || got[0] != a.Name {
				t.Errorf("active requests %v, want [a]", got)
			}

			// Once a is done, its resourceVersion has moved past the one
			// recorded: the next create takes the claim over, and a claim
			// taken for a create records no pending reactivation.
			if err := updatePhase(a, v1alpha1.PhaseCompleted); err != nil {
				t.Fatal(err)
			}
			createTakesTheClaim(t, ns, fp, "b", "after the reactivated request completed")
		})
	}

	// The same window, with the claim as the protocol left it before
	// reactivations were recorded on it: the create is admitted and takes
	// the claim over while a's reactivation stands admitted. The API
	// server stores an admitted update without asking again, so both
	// requests end up active: two remediations for one incident.
	t.Run("without the pending reactivation on the claim a duplicate is admitted", func(t *testing.T) {
		ns := env.Namespace(t)
		fp := newFingerprint(t)
		a := completed(t, ns, "a", fp)
		admitReactivation(t, a)
		l := webhooktest.Claim(t, env.Client, ns, fp)
		delete(l.Annotations, dedup.PendingReactivationAnnotation)
		if err := env.Client.Update(ctx, l); err != nil {
			t.Fatal(err)
		}

		b := testenv.RemediationRequest(ns, "b", fp)
		if err := create(ctx, b, false); err != nil {
			t.Fatalf("create in the window: %v; the naive protocol admits it", err)
		}
		wantHolder(t, ns, fp, b)
	})
}

// A reactivation admitted but never stored (the update failed after
// admission) holds the claim for the grace period only, as the deciding
// replica observes it, like a create that was never stored.
func TestReactivationNeverStoredIsTakenOverAfterGrace(t *testing.T) {
	const grace = 10 * time.Second
	ctx := context.Background()
	ns := env.Namespace(t)
	fp := newFingerprint(t)
	a := completed(t, ns, "a", fp)
	clock := observingReplica(t, grace)
	admitReactivation(t, a)

	wantClaimInFlight(t, create(ctx, testenv.RemediationRequest(ns, "b", fp), false), a.Name)
	clock.SetTime(clock.Now().Add(grace))
	b := createTakesTheClaim(t, ns, fp, "b", "after the grace of a reactivation never stored")
	got := auditFor(t, suite.Server, ns, "b")
	if len(got) != 2 || got[1].ClaimAction != "takenOver" || got[1].Reason != "Unique" {
		t.Errorf("audit = %+v, want ClaimInFlight, then a Unique admission that took the claim over", got)
	}

	// Reactivating a now, through the webhook, is refused: b is the
	// incident's request.
	wantDuplicate(t, updatePhase(a, v1alpha1.PhaseProcessing), b, "<none>")
}

// createTakesTheClaim creates the request name for fp (when, for messages)
// and checks that it now holds the claim, which records no pending
// reactivation: that spoke of the previous holder only.
func createTakesTheClaim(t *testing.T, ns, fp, name, when string) *v1alpha1.RemediationRequest {
	t.Helper()
	rr := testenv.RemediationRequest(ns, name, fp)
	if err := create(context.Background(), rr, false); err != nil {
		t.Fatalf("create %s: %v", when, err)
	}
	wantHolder(t, ns, fp, rr)
	if l := webhooktest.Claim(t, env.Client, ns, fp); l.Annotations[dedup.PendingReactivationAnnotation] != "" {
		t.Errorf("claim taken for a create %s records a pending reactivation: %v", when, l.Annotations)
	}
	return rr
}
