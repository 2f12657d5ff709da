package webhooktest

import (
	"context"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rrguard/rrguard/dedup"
)

// Claim returns the claim Lease of fingerprint fp in ns as r reads it now,
// nil when there is none.
func Claim(t testing.TB, r client.Reader, ns, fp string) *coordinationv1.Lease {
	t.Helper()
	l := &coordinationv1.Lease{}
	err := r.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: dedup.ClaimName(fp)}, l)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("get claim %s/%s: %v", ns, dedup.ClaimName(fp), err)
	}
	return l
}

// ActiveNames returns the names of the active requests with fingerprint fp
// in ns, as r reads them now.
func ActiveNames(t testing.TB, r client.Reader, ns, fp string) []string {
	t.Helper()
	items, err := dedup.ListByFingerprint(context.Background(), r, ns, fp)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i := range items {
		if dedup.IsActive(&items[i]) {
			names = append(names, items[i].Name)
		}
	}
	return names
}
