package webhook_test

import (
	"context"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/test/testenv"
)

// forgeClaim stores a claim for fp naming rr, a request of another
// fingerprint, with its UID: what a principal with Lease rights in the
// namespace could write where the claim policy is not installed.
func forgeClaim(t *testing.T, fp string, rr *v1alpha1.RemediationRequest) {
	t.Helper()
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: rr.Namespace, Name: dedup.ClaimName(fp),
			Labels:      map[string]string{dedup.ManagedByLabel: dedup.ManagedByValue},
			Annotations: map[string]string{dedup.HolderUIDAnnotation: string(rr.UID), dedup.FingerprintAnnotation: fp},
		},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(rr.Name)},
	}
	if err := env.Client.Create(context.Background(), l); err != nil {
		t.Fatalf("forge claim: %v", err)
	}
}

// A claim naming an active request of another fingerprint is not honoured:
// the create of the claim's own fingerprint takes it over, or, where an
// active request of that fingerprint is stored without a claim, the claim
// goes to that one and the create is its duplicate.
func TestAForgedClaimIsTakenOverNeverHonoured(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	other := testenv.RemediationRequest(ns, "of-another-incident", newFingerprint(t))
	if err := create(ctx, other, false); err != nil {
		t.Fatal(err)
	}

	t.Run("no active request", func(t *testing.T) {
		fp := newFingerprint(t)
		forgeClaim(t, fp, other)
		rr := testenv.RemediationRequest(ns, "first-of-its-incident", fp)
		if err := create(ctx, rr, false); err != nil {
			t.Fatalf("create beside a forged claim: %v, want admitted", err)
		}
		wantHolder(t, ns, fp, rr)
		got := auditFor(t, suite.Server, ns, rr.Name)
		if len(got) != 1 || got[0].Reason != "Unique" || got[0].ClaimAction != "takenOver" {
			t.Errorf("audit = %+v, want one Unique admission that took the claim over", got)
		}
	})
	t.Run("an unclaimed active request", func(t *testing.T) {
		fp := newFingerprint(t)
		a := unclaimedActive(t, ns, fp)
		forgeClaim(t, fp, other)
		wantDuplicate(t, create(ctx, testenv.RemediationRequest(ns, "second", fp), false), a, "<none>")
		wantHolder(t, ns, fp, a)
	})
}
