package gateway_test

import (
	"context"
	"net/http"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/gateway/httpapi"
	"github.com/rrguard/rrguard/test/testenv"
)

// A claim naming an active request of another fingerprint is not honoured:
// the signal is not counted on that request, but on a new one of its own
// incident. Unguarded, the gateway's own lookup is what refuses it;
// guarded, the webhook takes the forged claim over too.
func TestASignalIsNeverCountedOnTheRequestAForgedClaimNames(t *testing.T) {
	for _, guarded := range []bool{false, true} {
		t.Run(map[bool]string{false: "unguarded", true: "guarded"}[guarded], func(t *testing.T) {
			ctx := context.Background()
			ns := env.Namespace(t)
			if !guarded {
				ns = unguardedNamespace(t)
			}
			other := testenv.RemediationRequest(ns, "of-another-incident", fingerprintOf("shop", "other"))
			if err := env.Client.Create(ctx, other); err != nil {
				t.Fatal(err)
			}
			fp := fingerprintOf("shop", "web")
			forged := &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: dedup.ClaimName(fp),
					Annotations: map[string]string{dedup.HolderUIDAnnotation: string(other.UID), dedup.FingerprintAnnotation: fp}},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(other.Name)},
			}
			if err := env.Client.Create(ctx, forged); err != nil {
				t.Fatal(err)
			}
			gw := startGateway(t, ns)

			r, err := post(gw.URL, httpapi.PrometheusPath, "application/json", alertmanagerPayload(alert("shop", "web")))
			if err != nil {
				t.Fatal(err)
			}
			if s := r.signal(t); r.Code != http.StatusCreated || s.RemediationRequest.Name == other.Name || s.OccurrenceCount != 1 {
				t.Errorf("response %d %s, want 201 with a new request counted once", r.Code, r.Body)
			}
			stored := &v1alpha1.RemediationRequest{}
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(other), stored); err != nil {
				t.Fatal(err)
			}
			if d := stored.Status.GetDeduplication(); d != nil && d.OccurrenceCount != 0 {
				t.Errorf("the request the forged claim names was counted on: %+v", d)
			}
		})
	}
}
