package testenv

import (
	"context"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// MustSetPhase is SetPhase, failing t on an error.
func MustSetPhase(t testing.TB, c client.Client, ns, name string, phase v1alpha1.Phase) {
	t.Helper()
	if err := SetPhase(context.Background(), c, ns, name, phase); err != nil {
		t.Fatal(err)
	}
}
