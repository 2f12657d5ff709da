package dedup_test

import (
	"context"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	setup := func(t *testing.T) (client.Client, *dedup.Guard, *time.Time, *v1alpha1.RemediationRequest) {
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
		clock := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
		g := &dedup.Guard{Reader: c, Writer: c, Grace: grace, Now: func() time.Time { return clock }}
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
		return c, g, &clock, a
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
		*clock = clock.Add(grace - time.Second)
		v := createB(t, g)
		if v.Allowed || v.Reason != dedup.ReasonClaimInFlight || v.HolderName != "a" || v.RetryAfter != time.Second {
			t.Errorf("create: %+v; want ClaimInFlight held by a, retry after 1s", v)
		}
	})
	t.Run("after the grace the create takes the claim over", func(t *testing.T) {
		c, g, clock, _ := setup(t)
		*clock = clock.Add(grace)
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
