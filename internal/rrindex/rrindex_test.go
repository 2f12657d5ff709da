package rrindex

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
)

// The index answers the decisions that read it as the request itself
// would: whether it is active, whether it suppresses its fingerprint, and
// which request it is; what it drops is what they never read.
func TestStrippedRequestsDecideAsTheirOriginals(t *testing.T) {
	now := time.Now()
	later := metav1.NewTime(now.Add(time.Hour))
	tests := []struct {
		name   string
		status v1alpha1.RemediationRequestStatus
		gone   bool
	}{
		{name: "just created"},
		{name: "processing", status: v1alpha1.RemediationRequestStatus{OverallPhase: v1alpha1.PhaseProcessing}},
		{name: "completed", status: v1alpha1.RemediationRequestStatus{OverallPhase: v1alpha1.PhaseCompleted}},
		{name: "failed for manual review", status: v1alpha1.RemediationRequestStatus{
			OverallPhase:     v1alpha1.PhaseFailed,
			CompletionStatus: &v1alpha1.CompletionStatus{Outcome: v1alpha1.OutcomeManualReviewRequired},
		}},
		{name: "completed in its backoff window", status: v1alpha1.RemediationRequestStatus{
			OverallPhase:  v1alpha1.PhaseCompleted,
			RoutingStatus: &v1alpha1.RoutingStatus{NextAllowedExecution: &later},
		}},
		{name: "being deleted", status: v1alpha1.RemediationRequestStatus{OverallPhase: v1alpha1.PhaseExecuting}, gone: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rr := &v1alpha1.RemediationRequest{
				ObjectMeta: metav1.ObjectMeta{
					Namespace: "payments", Name: "rr-1", UID: "uid-1", ResourceVersion: "42",
					CreationTimestamp: metav1.NewTime(now.Add(-time.Minute)),
					Labels:            map[string]string{"app.kubernetes.io/managed-by": "gateway-service"},
				},
				Spec: v1alpha1.RemediationRequestSpec{
					SignalFingerprint: "f00d",
					SignalLabels:      map[string]string{"alertname": "KubePodCrashLooping"},
				},
				Status: tc.status,
			}
			if tc.gone {
				rr.DeletionTimestamp = &later
			}
			obj, err := stripForIndex(rr)
			if err != nil {
				t.Fatal(err)
			}
			got := obj.(*v1alpha1.RemediationRequest)
			if dedup.IsActive(got) != dedup.IsActive(rr) || dedup.Suppresses(got, now) != dedup.Suppresses(rr, now) {
				t.Errorf("stripped: active %v, suppresses %v; the request: active %v, suppresses %v",
					dedup.IsActive(got), dedup.Suppresses(got, now), dedup.IsActive(rr), dedup.Suppresses(rr, now))
			}
			if got.UID != rr.UID || got.ResourceVersion != rr.ResourceVersion || got.Name != rr.Name || got.Spec.SignalFingerprint != rr.Spec.SignalFingerprint {
				t.Errorf("stripped %+v lost the request's identity, version or fingerprint", got.ObjectMeta)
			}
			if got.Labels != nil || got.Spec.SignalLabels != nil {
				t.Errorf("stripped kept labels %v and signal labels %v", got.Labels, got.Spec.SignalLabels)
			}
		})
	}
}
