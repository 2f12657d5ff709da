package scan_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
)

// The suite's control plane calls the real webhook over TLS. Namespaces
// labelled webhooktest.UnguardedLabel are left alone, as on a cluster
// without rrguard: that is where the duplicates a scan must find are made.
var suite = &webhooktest.Suite{}

func TestMain(m *testing.M) { suite.Main(m, nil) }

var fpSeq atomic.Int64

// newFingerprint returns a fingerprint no other test uses.
func newFingerprint(t testing.TB) string {
	t.Helper()
	fp, err := dedup.Fingerprint(dedup.Target{Namespace: "scan", Kind: "Deployment", Name: fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), fpSeq.Add(1))})
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// mustCreate creates rr, failing t.
func mustCreate(t testing.TB, rr *v1alpha1.RemediationRequest) *v1alpha1.RemediationRequest {
	t.Helper()
	if err := suite.Client.Create(context.Background(), rr); err != nil {
		t.Fatalf("create %s: %v", rr.Name, err)
	}
	return rr
}

// guard removes ns's unguarded label and waits until the webhook guards
// it: until a dry-run duplicate (which writes nothing) of a probe request,
// stored while ns was unguarded and deleted afterwards, is denied.
func guard(t testing.TB, ns string) {
	t.Helper()
	ctx := context.Background()
	probe := mustCreate(t, testenv.RemediationRequest(ns, "guard-probe", newFingerprint(t)))
	n := &corev1.Namespace{}
	if err := suite.Client.Get(ctx, client.ObjectKey{Name: ns}, n); err != nil {
		t.Fatal(err)
	}
	delete(n.Labels, webhooktest.UnguardedLabel)
	if err := suite.Client.Update(ctx, n); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		dup := testenv.RemediationRequest(ns, "guard-probe-dup", probe.Spec.SignalFingerprint)
		if _, ok := dedup.DenialFromError(suite.Client.Create(ctx, dup, client.DryRunAll)); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s still unguarded 20s after its label went", ns)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := suite.Client.Delete(ctx, probe); err != nil {
		t.Fatal(err)
	}
}

// claimHolder returns the name of fp's claim holder in ns; "" without a claim.
func claimHolder(t testing.TB, ns, fp string) string {
	t.Helper()
	l := webhooktest.Claim(t, suite.Client, ns, fp)
	if l == nil {
		return ""
	}
	return dedup.Claim{Lease: l}.HolderName()
}
