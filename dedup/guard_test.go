package dedup_test

import (
	"context"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/internal/kube"
)

const fp = "90c5375f2830cbd56431459d314af87e810ef05c5eccc4d66b50373682befa9b"

// The pending-reactivation rule on its own, with a clock the test moves (on
// the fake client: the protocol against the real API server is proven in the
// webhook package).
func TestGuardPendingReactivation(t *testing.T) {
	const grace = 10 * time.Second
	ctx := context.Background()
	setup := func(t *testing.T) (client.Client, *dedup.Guard, *clocktesting.FakePassiveClock, *v1alpha1.RemediationRequest) {
		t.Helper()
		a := &v1alpha1.RemediationRequest{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a", UID: "uid-a"},
			Spec:       v1alpha1.RemediationRequestSpec{SignalFingerprint: fp},
			Status:     v1alpha1.RemediationRequestStatus{OverallPhase: v1alpha1.PhaseCompleted},
		}
		c := fake.NewClientBuilder().WithScheme(kube.NewScheme()).WithObjects(a).
			WithIndex(&v1alpha1.RemediationRequest{}, v1alpha1.FingerprintField, func(o client.Object) []string {
				return []string{o.(*v1alpha1.RemediationRequest).Spec.SignalFingerprint}
			}).Build()
		if err := c.Get(ctx, client.ObjectKeyFromObject(a), a); err != nil {
			t.Fatal(err)
		}
		clock := clocktesting.NewFakePassiveClock(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
		g := &dedup.Guard{Reader: c, Writer: c, Grace: grace, HolderWait: -1, Clock: clock}
		v, err := g.Admit(ctx, dedup.Candidate{
			Namespace: "ns", Name: "a", UID: a.UID, Fingerprint: fp,
			Reactivation: true, StoredResourceVersion: a.ResourceVersion,
		}, false)
		if err != nil || !v.Allowed || v.Reason != dedup.ReasonReactivated || v.ClaimAction != dedup.ClaimCreated {
			t.Fatalf("reactivation: %+v, %v; want Reactivated, claim created", v, err)
		}
		if got := claim(t, c).PendingReactivation(); got != a.ResourceVersion {
			t.Fatalf("claim records %q, want %q", got, a.ResourceVersion)
		}
		return c, g, clock, a
	}
	createB := func(t *testing.T, g *dedup.Guard) dedup.Verdict {
		t.Helper()
		v, err := g.Admit(ctx, dedup.Candidate{Namespace: "ns", Name: "b", UID: "uid-b", Fingerprint: fp}, false)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	wantTakenOverByB := func(t *testing.T, c client.Client, v dedup.Verdict) {
		t.Helper()
		if !v.Allowed || v.ClaimAction != dedup.ClaimTakenOver {
			t.Fatalf("create: %+v; want admitted, claim taken over", v)
		}
		cl := claim(t, c)
		if cl.HolderName() != "b" || cl.PendingReactivation() != "" {
			t.Errorf("claim held by %s with pending reactivation %q; want b, none", cl.HolderName(), cl.PendingReactivation())
		}
	}

	t.Run("inside the grace the create waits", func(t *testing.T) {
		_, g, clock, _ := setup(t)
		clock.SetTime(clock.Now().Add(grace - time.Second))
		v := createB(t, g)
		if v.Allowed || v.Reason != dedup.ReasonClaimInFlight || v.HolderName != "a" || v.RetryAfter != time.Second {
			t.Errorf("create: %+v; want ClaimInFlight held by a, retry after 1s", v)
		}
	})
	t.Run("after the grace the create takes the claim over", func(t *testing.T) {
		c, g, clock, _ := setup(t)
		clock.SetTime(clock.Now().Add(grace))
		wantTakenOverByB(t, c, createB(t, g))
	})
	t.Run("once the update landed the create is a duplicate", func(t *testing.T) {
		c, g, _, a := setup(t)
		a.Status.OverallPhase = v1alpha1.PhaseProcessing
		if err := c.Update(ctx, a); err != nil {
			t.Fatal(err)
		}
		if v := createB(t, g); v.Allowed || v.Reason != dedup.ReasonDuplicate || v.Holder.Name != "a" {
			t.Errorf("create: %+v; want Duplicate of a", v)
		}
	})
	t.Run("another change stored instead leaves the holder inactive", func(t *testing.T) {
		c, g, _, a := setup(t)
		a.Labels = map[string]string{"touched": "yes"}
		if err := c.Update(ctx, a); err != nil {
			t.Fatal(err)
		}
		wantTakenOverByB(t, c, createB(t, g))
	})
}

func claim(t *testing.T, c client.Client) dedup.Claim {
	t.Helper()
	l := &coordinationv1.Lease{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: dedup.ClaimName(fp)}, l); err != nil {
		t.Fatal(err)
	}
	return dedup.Claim{Lease: l}
}

func newFakeReader(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	return fake.NewClientBuilder().WithScheme(kube.NewScheme()).WithObjects(objs...).
		WithIndex(&v1alpha1.RemediationRequest{}, v1alpha1.FingerprintField, func(o client.Object) []string {
			return []string{o.(*v1alpha1.RemediationRequest).Spec.SignalFingerprint}
		}).Build()
}

// A create that reuses the name of the active holder (the API server will
// refuse it as AlreadyExists after admission) must not get the claim: the
// active holder would be left unclaimed, and the claim held by a UID never
// stored would be taken over by the next create once the grace passed.
func TestCreateUnderTheActiveHoldersNameLeavesItsClaimAlone(t *testing.T) {
	ctx := context.Background()
	a := &v1alpha1.RemediationRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a", UID: "uid-a"},
		Spec:       v1alpha1.RemediationRequestSpec{SignalFingerprint: fp},
	}
	c := newFakeReader(t, a)
	clock := clocktesting.NewFakePassiveClock(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	g := &dedup.Guard{Reader: c, Writer: c, Grace: 10 * time.Second, HolderWait: -1, Clock: clock}
	if v, err := g.Admit(ctx, dedup.Candidate{Namespace: "ns", Name: "a", UID: "uid-a", Fingerprint: fp}, false); err != nil || !v.Allowed {
		t.Fatalf("a: %+v, %v", v, err)
	}

	v, err := g.Admit(ctx, dedup.Candidate{Namespace: "ns", Name: "a", UID: "uid-a2", Fingerprint: fp}, false)
	if err != nil || v.Allowed || v.Reason != dedup.ReasonDuplicate || v.Holder == nil || v.Holder.UID != "uid-a" {
		t.Fatalf("second create named a: %+v, %v; want Duplicate of the stored a", v, err)
	}
	if got := claim(t, c).HolderUID(); got != "uid-a" {
		t.Fatalf("claim now held by UID %q, want uid-a", got)
	}
	// Long after, another create is still a duplicate of a.
	clock.SetTime(clock.Now().Add(time.Hour))
	if v, err := g.Admit(ctx, dedup.Candidate{Namespace: "ns", Name: "b", UID: "uid-b", Fingerprint: fp}, false); err != nil || v.Allowed || v.Reason != dedup.ReasonDuplicate {
		t.Fatalf("b: %+v, %v; want Duplicate of a", v, err)
	}
}

// Taking a claim over clears the janitor's mark, which spoke of the previous
// holder: kept, it could let the janitor delete the claim before the new
// holder is stored, when no List would rebuild it.
func TestTakeOverClearsTheJanitorsMark(t *testing.T) {
	ctx := context.Background()
	done := &v1alpha1.RemediationRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "done", UID: "uid-done"},
		Spec:       v1alpha1.RemediationRequestSpec{SignalFingerprint: fp},
		Status:     v1alpha1.RemediationRequestStatus{OverallPhase: v1alpha1.PhaseCompleted},
	}
	c := newFakeReader(t, done)
	g := &dedup.Guard{Reader: c, Writer: c}
	if _, err := g.Admit(ctx, dedup.Candidate{Namespace: "ns", Name: "done", UID: "uid-done", Fingerprint: fp, Reactivation: true}, false); err != nil {
		t.Fatal(err)
	}
	l := claim(t, c).Lease
	l.Annotations[dedup.InactiveSinceAnnotation] = "2020-01-01T00:00:00Z"
	if err := c.Update(ctx, l); err != nil {
		t.Fatal(err)
	}

	v, err := g.Admit(ctx, dedup.Candidate{Namespace: "ns", Name: "next", UID: "uid-next", Fingerprint: fp}, false)
	if err != nil || !v.Allowed || v.ClaimAction != dedup.ClaimTakenOver {
		t.Fatalf("next: %+v, %v; want admitted by takeover", v, err)
	}
	if mark, ok := claim(t, c).Lease.Annotations[dedup.InactiveSinceAnnotation]; ok {
		t.Errorf("the claim handed to next still carries the janitor's mark %q", mark)
	}
}
