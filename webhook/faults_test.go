package webhook_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
	"github.com/rrguard/rrguard/webhook"
)

// ghostClaim stores a claim for fp held by a request that was admitted but
// never stored (its creation failed after admission), acquired at acquired.
func ghostClaim(t *testing.T, ns, fp string, acquired time.Time) *coordinationv1.Lease {
	t.Helper()
	at := metav1.NewMicroTime(acquired)
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: dedup.ClaimName(fp),
			Labels:      map[string]string{dedup.ManagedByLabel: dedup.ManagedByValue},
			Annotations: map[string]string{dedup.HolderUIDAnnotation: "0d5e1c3a-ghost", dedup.FingerprintAnnotation: fp},
		},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("ghost"), AcquireTime: &at},
	}
	if err := env.Client.Create(context.Background(), l); err != nil {
		t.Fatalf("create ghost claim: %v", err)
	}
	return l
}

func TestClaimOfUnstoredHolderYoungerThanGraceIsRetryable(t *testing.T) {
	ns := env.Namespace(t)
	fp := newFingerprint(t)
	ghostClaim(t, ns, fp, time.Now())

	err := create(context.Background(), testenv.RemediationRequest(ns, "waits", fp), false)
	if !apierrors.IsTooManyRequests(err) {
		t.Fatalf("err = %v, want 429 TooManyRequests", err)
	}
	if s, ok := err.(apierrors.APIStatus); !ok || s.Status().Code != http.StatusTooManyRequests {
		t.Errorf("status = %+v, want code 429", err)
	}
	d, ok := dedup.DenialFromError(err)
	if !ok || d.Reason != dedup.ReasonClaimInFlight || d.Holder != "ghost" || d.RetryAfter != time.Second {
		t.Errorf("DenialFromError = %+v, %v; want ClaimInFlight held by ghost, retry after 1s", d, ok)
	}
	if d, ok := apierrors.SuggestsClientDelay(err); !ok || d != 1 {
		t.Errorf("SuggestsClientDelay = %d, %v; want 1s", d, ok)
	}
	got := auditFor(t, suite.Server, ns, "waits")
	if len(got) != 1 || got[0].Reason != "ClaimInFlight" || got[0].Holder != "ghost" || got[0].Decision != "denied" {
		t.Errorf("audit = %+v, want one ClaimInFlight denial naming ghost", got)
	}
}

// observingReplica replaces the suite's webhook server with a replica whose
// clock the test moves, deciding with grace and without waiting for
// holders (nothing here would store them).
func observingReplica(t *testing.T, grace time.Duration) *clocktesting.FakePassiveClock {
	t.Helper()
	clock := clocktesting.NewFakePassiveClock(time.Now())
	suite.Replace(t, webhooktest.Options{Clock: clock, Webhook: webhook.Options{ClaimGrace: grace, HolderWait: -1}})
	return clock
}

// A claim whose holder is not stored is taken over once this replica has
// observed it unchanged for the grace, however long ago another replica
// says it took the claim: an acquireTime an hour old counts for nothing.
func TestClaimOfUnstoredHolderIsTakenOverOnceObservedForTheGrace(t *testing.T) {
	const grace = 10 * time.Second
	ctx := context.Background()
	ns := env.Namespace(t)
	fp := newFingerprint(t)
	clock := observingReplica(t, grace)
	ghostClaim(t, ns, fp, time.Now().Add(-time.Hour))

	wantClaimInFlight(t, create(ctx, testenv.RemediationRequest(ns, "early", fp), false), "ghost")
	clock.SetTime(clock.Now().Add(grace - time.Second))
	wantClaimInFlight(t, create(ctx, testenv.RemediationRequest(ns, "still-early", fp), false), "ghost")
	clock.SetTime(clock.Now().Add(time.Second))

	rr := testenv.RemediationRequest(ns, "takes-over", fp)
	if err := create(ctx, rr, false); err != nil {
		t.Fatalf("create after the grace: %v", err)
	}
	wantHolder(t, ns, fp, rr)
	if l := webhooktest.Claim(t, env.Client, ns, fp); ptr.Deref(l.Spec.LeaseTransitions, 0) != 1 {
		t.Errorf("leaseTransitions = %v, want 1", l.Spec.LeaseTransitions)
	}
	got := auditFor(t, suite.Server, ns, "takes-over")
	if len(got) != 1 || got[0].ClaimAction != "takenOver" || got[0].Reason != "Unique" {
		t.Errorf("audit = %+v, want one Unique admission that took the claim over", got)
	}
}

// unclaimedActive stores an active request named "unclaimed" for fp and
// deletes its claim: what a request created while the webhook was not
// registered (or whose claim was lost) looks like.
func unclaimedActive(t *testing.T, ns, fp string) *v1alpha1.RemediationRequest {
	t.Helper()
	a := testenv.RemediationRequest(ns, "unclaimed", fp)
	if err := create(context.Background(), a, false); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := env.Client.Delete(context.Background(), webhooktest.Claim(t, env.Client, ns, fp)); err != nil {
		t.Fatalf("delete claim: %v", err)
	}
	return a
}

// Without a claim, a dry run and a reactivation find an active request
// stored without one as a create does: a dry run from its look alone (step
// C4, nothing written), a reactivation after creating the claim (steps C1,
// C2), which then goes to the active request.
func TestWithoutAClaimDryRunsAndReactivationsFindTheUnclaimedRequest(t *testing.T) {
	ctx := context.Background()
	t.Run("dry run", func(t *testing.T) {
		ns := env.Namespace(t)
		fp := newFingerprint(t)
		a := unclaimedActive(t, ns, fp)
		wantDuplicate(t, create(ctx, testenv.RemediationRequest(ns, "dry", fp), true), a, "<none>")
		if l := webhooktest.Claim(t, env.Client, ns, fp); l != nil {
			t.Errorf("the dry run wrote claim %s", l.Name)
		}
	})
	t.Run("reactivation", func(t *testing.T) {
		ns := env.Namespace(t)
		fp := newFingerprint(t)
		done := completedWithoutClaim(t, ns, "done", fp)
		a := unclaimedActive(t, ns, fp)
		wantDuplicate(t, updatePhase(done, v1alpha1.PhaseProcessing), a, "<none>")
		wantHolder(t, ns, fp, a)
	})
}

// completedWithoutClaim creates a request through the webhook, completes
// it and deletes its claim.
func completedWithoutClaim(t *testing.T, ns, name, fp string) *v1alpha1.RemediationRequest {
	t.Helper()
	rr := completed(t, ns, name, fp)
	if err := env.Client.Delete(context.Background(), webhooktest.Claim(t, env.Client, ns, fp)); err != nil {
		t.Fatalf("delete claim: %v", err)
	}
	return rr
}

func TestActiveRequestWithoutClaimIsFoundAndTheClaimRebuilt(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	fp := newFingerprint(t)
	a := unclaimedActive(t, ns, fp)

	wantDuplicate(t, create(ctx, testenv.RemediationRequest(ns, "second", fp), false), a, "<none>")
	wantHolder(t, ns, fp, a)
	got := auditFor(t, suite.Server, ns, "second")
	if len(got) != 1 || got[0].ClaimAction != "created" || got[0].Holder != "unclaimed" {
		t.Errorf("audit = %+v, want a Duplicate denial that rebuilt the claim for unclaimed", got)
	}
}

// noLists reads through the API server but finds nothing by List: the Guard
// as it was before a stale claim of a never-stored holder was checked
// against the List.
type noLists struct{ client.Reader }

func (noLists) List(context.Context, client.ObjectList, ...client.ListOption) error { return nil }

// A claim left by a crashed admission (holder never stored, grace long
// past) beside an active request created while the webhook was not
// guarding: taking the claim over blindly would admit a second active
// request; the List finds the unclaimed one and the claim goes to it.
func TestStaleClaimOfANeverStoredHolderIsHandedToAnUnclaimedActiveRequest(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	fp := newFingerprint(t)
	a := unclaimedActive(t, ns, fp)
	const grace = 10 * time.Second
	clock := observingReplica(t, grace)
	ghostClaim(t, ns, fp, time.Now())

	// Without the List the stale claim is taken over: a duplicate.
	blindClock := clocktesting.NewFakePassiveClock(time.Now())
	blind := &dedup.Guard{Reader: noLists{env.Client}, Writer: env.Client, Grace: grace, HolderWait: -1, Clock: blindClock}
	second := dedup.Candidate{Namespace: ns, Name: "second", UID: "uid-second", Fingerprint: fp}
	if v, err := blind.Admit(ctx, second, true); err != nil || v.Reason != dedup.ReasonClaimInFlight {
		t.Fatalf("the Guard without Lists, inside the grace: %+v, %v; want ClaimInFlight", v, err)
	}
	blindClock.SetTime(blindClock.Now().Add(grace))
	v, err := blind.Admit(ctx, second, true)
	if err != nil || !v.Allowed {
		t.Fatalf("the Guard without Lists: %+v, %v; it was expected to admit the duplicate", v, err)
	}

	wantClaimInFlight(t, create(ctx, testenv.RemediationRequest(ns, "second", fp), false), "ghost")
	clock.SetTime(clock.Now().Add(grace))
	wantDuplicate(t, create(ctx, testenv.RemediationRequest(ns, "second", fp), false), a, "<none>")
	wantHolder(t, ns, fp, a)
	got := auditFor(t, suite.Server, ns, "second")
	if len(got) != 2 || got[1].ClaimAction != "takenOver" || got[1].Holder != "unclaimed" || got[1].Reason != "Duplicate" {
		t.Errorf("audit = %+v, want ClaimInFlight, then a Duplicate denial that handed the claim to unclaimed", got)
	}
}

func TestJanitorRemovesClaimsOfLongGoneHolders(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	clock := clocktesting.NewFakePassiveClock(time.Now())
	keeper := func() *dedup.ClaimKeeper {
		return &dedup.ClaimKeeper{Reader: env.Client, Writer: env.Client, Retention: time.Hour, Clock: clock}
	}
	j := &webhook.Janitor{Keeper: keeper(), Namespace: ns}
	done, active, gone, retaken := newFingerprint(t), newFingerprint(t), newFingerprint(t), newFingerprint(t)
	doneRR := testenv.RemediationRequest(ns, "done", done)
	activeRR := testenv.RemediationRequest(ns, "active", active)
	retakenRR := testenv.RemediationRequest(ns, "retaken-old", retaken)
	for _, rr := range []*v1alpha1.RemediationRequest{doneRR, activeRR, retakenRR} {
		if err := create(ctx, rr, false); err != nil {
			t.Fatal(err)
		}
	}
	for _, rr := range []*v1alpha1.RemediationRequest{doneRR, retakenRR} {
		if err := updatePhase(rr, v1alpha1.PhaseCompleted); err != nil {
			t.Fatal(err)
		}
	}
	ghostClaim(t, ns, gone, clock.Now().Add(-2*time.Hour))

	// First sweep: holders are marked, nothing is removed yet, however old
	// the claim: retention counts from when the holder was seen inactive.
	if n := sweepIn(t, j, ns); n != 0 {
		t.Fatalf("first sweep removed %d claims, want 0", n)
	}
	for _, fp := range []string{done, gone, retaken} {
		if l := webhooktest.Claim(t, env.Client, ns, fp); l == nil || l.Annotations[webhook.InactiveSinceAnnotation] == "" {
			t.Errorf("claim %s not marked inactive: %+v", fp, l)
		}
	}
	if l := webhooktest.Claim(t, env.Client, ns, active); l.Annotations[webhook.InactiveSinceAnnotation] != "" {
		t.Errorf("claim of an active holder marked inactive")
	}

	// A new incident takes one of the marked claims over before retention ends.
	retakenNew := testenv.RemediationRequest(ns, "retaken-new", retaken)
	if err := create(ctx, retakenNew, false); err != nil {
		t.Fatalf("create over a marked claim: %v", err)
	}

	clock.SetTime(clock.Now().Add(30 * time.Minute))
	if n := sweepIn(t, j, ns); n != 0 {
		t.Fatalf("sweep inside retention removed %d claims, want 0", n)
	}
	// A new leader's janitor has observed nothing: it counts the
	// retention afresh, whatever the marks say.
	successor := &webhook.Janitor{Keeper: keeper(), Namespace: ns}
	clock.SetTime(clock.Now().Add(31 * time.Minute))
	if n := sweepIn(t, successor, ns); n != 0 {
		t.Fatalf("a new janitor's first sweep removed %d claims, want 0: it has not observed them for the retention", n)
	}
	if n := sweepIn(t, j, ns); n != 2 {
		t.Fatalf("sweep after retention removed %d claims, want 2 (done, gone)", n)
	}
	for _, fp := range []string{done, gone} {
		if l := webhooktest.Claim(t, env.Client, ns, fp); l != nil {
			t.Errorf("claim %s still there after retention", fp)
		}
	}
	wantHolder(t, ns, active, activeRR)
	wantHolder(t, ns, retaken, retakenNew)
	if l := webhooktest.Claim(t, env.Client, ns, retaken); l.Annotations[webhook.InactiveSinceAnnotation] != "" {
		t.Errorf("the re-taken claim still carries the inactive mark")
	}

	// Losing a claim is safe: the next incident of "done" rebuilds it.
	again := testenv.RemediationRequest(ns, "done-again", done)
	if err := create(ctx, again, false); err != nil {
		t.Fatalf("create after the claim was swept: %v", err)
	}
	wantHolder(t, ns, done, again)
}

// sweepIn sweeps and returns how many claims of namespace ns were removed.
func sweepIn(t *testing.T, j *webhook.Janitor, ns string) int {
	t.Helper()
	before := countClaims(t, ns)
	if _, err := j.Sweep(context.Background()); err != nil {
		t.Fatalf("sweep: %v", err)
	}
	return before - countClaims(t, ns)
}

func countClaims(t *testing.T, ns string) int {
	t.Helper()
	l := &coordinationv1.LeaseList{}
	if err := env.Client.List(context.Background(), l, &client.ListOptions{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	return len(l.Items)
}
