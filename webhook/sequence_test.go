package webhook_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
)

func wantHolder(t *testing.T, ns, fp string, rr *v1alpha1.RemediationRequest) {
	t.Helper()
	l := webhooktest.Claim(t, env.Client, ns, fp)
	if l == nil {
		t.Fatalf("no claim for %s, want one held by %s", fp, rr.Name)
	}
	c := dedup.Claim{Lease: l}
	if c.HolderName() != rr.Name || c.HolderUID() != rr.UID {
		t.Fatalf("claim held by %s (%s), want %s (%s)", c.HolderName(), c.HolderUID(), rr.Name, rr.UID)
	}
}

// wantDuplicate checks err is the webhook's Duplicate denial naming holder.
func wantDuplicate(t *testing.T, err error, holder *v1alpha1.RemediationRequest, phase string) {
	t.Helper()
	if err == nil {
		t.Fatal("created, want a Duplicate denial")
	}
	if code := apierrors.ReasonForError(err); code != "Conflict" {
		t.Errorf("reason = %q, want Conflict (%v)", code, err)
	}
	var se apierrors.APIStatus
	if !(apierrors.IsConflict(err)) {
		t.Errorf("err = %v, want HTTP 409", err)
	} else if se, _ = err.(apierrors.APIStatus); se != nil && se.Status().Code != http.StatusConflict {
		t.Errorf("code = %d, want 409", se.Status().Code)
	}
	want := "RemediationRequest " + holder.Namespace + "/" + holder.Name + " with fingerprint " + holder.Spec.SignalFingerprint + " is active (phase " + phase + ")"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("message %q does not contain %q", err.Error(), want)
	}
	d, ok := dedup.DenialFromError(err)
	if !ok || d.Reason != dedup.ReasonDuplicate || d.Holder != holder.Name {
		t.Errorf("DenialFromError = %+v, %v; want Duplicate held by %s", d, ok, holder.Name)
	}
}

func TestAdmissionSequence(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	fp, other := newFingerprint(t), newFingerprint(t)

	// 1. The first request of an incident is admitted and takes the claim.
	a := testenv.RemediationRequest(ns, "incident-a", fp)
	if err := create(ctx, a, false); err != nil {
		t.Fatalf("first create: %v", err)
	}
	wantHolder(t, ns, fp, a)

	// 2. A second one is denied, naming the holder.
	b := testenv.RemediationRequest(ns, "incident-b", fp)
	wantDuplicate(t, create(ctx, b, false), a, "<none>")

	// 3. Ordinary status updates never reach the webhook (matchConditions).
	before := len(auditLines(t, suite.Server))
	if err := updatePhase(a, v1alpha1.PhaseExecuting); err != nil {
		t.Fatalf("status update to Executing: %v", err)
	}
	wantDuplicate(t, create(ctx, testenv.RemediationRequest(ns, "incident-b2", fp), false), a, "Executing")
	if err := updatePhase(a, v1alpha1.PhaseCompleted); err != nil {
		t.Fatalf("status update to Completed: %v", err)
	}
	if got := len(auditLines(t, suite.Server)) - before; got != 1 {
		t.Errorf("%d audit lines across two status updates and one create, want 1: status updates must not be sent to the webhook", got)
	}

	// 4. The holder has completed: the next incident is admitted and takes
	// the claim over (two Gets, no List).
	c := testenv.RemediationRequest(ns, "incident-c", fp)
	if err := create(ctx, c, false); err != nil {
		t.Fatalf("create after the holder completed: %v", err)
	}
	wantHolder(t, ns, fp, c)

	// 5. Another fingerprint is another incident.
	d := testenv.RemediationRequest(ns, "other-d", other)
	if err := create(ctx, d, false); err != nil {
		t.Fatalf("create with another fingerprint: %v", err)
	}

	// 6. A dry run decides without writing: no claim for a new fingerprint,
	// and a duplicate is still refused.
	fresh := newFingerprint(t)
	if err := create(ctx, testenv.RemediationRequest(ns, "dry", fresh), true); err != nil {
		t.Fatalf("dry-run create: %v", err)
	}
	if l := webhooktest.Claim(t, env.Client, ns, fresh); l != nil {
		t.Errorf("dry run wrote claim %s", l.Name)
	}
	wantDuplicate(t, create(ctx, testenv.RemediationRequest(ns, "dry-dup", fp), true), c, "<none>")

	// 7. Re-activating the completed request while c is active is denied.
	wantDuplicate(t, updatePhase(a, v1alpha1.PhaseProcessing), c, "<none>")

	// 8. Once c is done, re-activating a takes the claim back.
	if err := updatePhase(c, v1alpha1.PhaseFailed); err != nil {
		t.Fatalf("status update to Failed: %v", err)
	}
	a.Status.OverallPhase = v1alpha1.PhaseCompleted
	if err := updatePhase(a, v1alpha1.PhaseProcessing); err != nil {
		t.Fatalf("re-activation with no other active request: %v", err)
	}
	wantHolder(t, ns, fp, a)

	// Exactly one audit line per decision, with the documented fields.
	type want struct{ op, sub, decision, reason, holder, claim string }
	wants := map[string][]want{
		"incident-a":  {{"CREATE", "", "allowed", "Unique", "incident-a", "created"}, {"UPDATE", "status", "denied", "Duplicate", "incident-c", "none"}, {"UPDATE", "status", "allowed", "Reactivated", "incident-a", "takenOver"}},
		"incident-b":  {{"CREATE", "", "denied", "Duplicate", "incident-a", "none"}},
		"incident-c":  {{"CREATE", "", "allowed", "Unique", "incident-c", "takenOver"}},
		"other-d":     {{"CREATE", "", "allowed", "Unique", "other-d", "created"}},
		"dry":         {{"CREATE", "", "allowed", "Unique", "dry", "none"}},
		"dry-dup":     {{"CREATE", "", "denied", "Duplicate", "incident-c", "none"}},
		"incident-b2": {{"CREATE", "", "denied", "Duplicate", "incident-a", "none"}},
	}
	for name, ws := range wants {
		got := auditFor(t, suite.Server, ns, name)
		if len(got) != len(ws) {
			t.Errorf("%s: %d audit lines, want %d: %+v", name, len(got), len(ws), got)
			continue
		}
		for i, w := range ws {
			g := got[i]
			if g.Operation != w.op || g.Subresource != w.sub || g.Decision != w.decision || g.Reason != w.reason ||
				g.Holder != w.holder || g.ClaimAction != w.claim {
				t.Errorf("%s line %d = %+v, want %+v", name, i, g, w)
			}
			if g.RequestUID == "" || g.User == "" || len(g.Groups) == 0 || g.ObjectUID == "" || g.LatencySeconds == nil || g.Coalesced == nil || g.Msg != "admission decision" {
				t.Errorf("%s line %d lacks a field: %+v", name, i, g)
			}
			if g.Coalesced != nil && *g.Coalesced {
				t.Errorf("%s line %d coalesced, though every request here was alone", name, i)
			}
			if g.DryRun != strings.HasPrefix(name, "dry") {
				t.Errorf("%s line %d dryRun = %v", name, i, g.DryRun)
			}
			if g.Fingerprint == "" {
				t.Errorf("%s line %d has no fingerprint", name, i)
			}
		}
	}
}
