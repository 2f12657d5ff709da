package dedup

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

func TestIsActive(t *testing.T) {
	now := metav1.Now()
	tests := map[string]struct {
		phase    v1alpha1.Phase
		deleting bool
		want     bool
	}{
		"a fresh request with no phase is active":     {phase: "", want: true},
		"pending is active":                           {phase: v1alpha1.PhasePending, want: true},
		"processing is active":                        {phase: v1alpha1.PhaseProcessing, want: true},
		"analyzing is active":                         {phase: v1alpha1.PhaseAnalyzing, want: true},
		"awaiting approval is active":                 {phase: v1alpha1.PhaseAwaitingApproval, want: true},
		"executing is active":                         {phase: v1alpha1.PhaseExecuting, want: true},
		"verifying is active":                         {phase: v1alpha1.PhaseVerifying, want: true},
		"blocked is active":                           {phase: v1alpha1.PhaseBlocked, want: true},
		"an unknown phase is active":                  {phase: "RollingBack", want: true},
		"completed is terminal":                       {phase: v1alpha1.PhaseCompleted, want: false},
		"failed is terminal":                          {phase: v1alpha1.PhaseFailed, want: false},
		"timed out is terminal":                       {phase: v1alpha1.PhaseTimedOut, want: false},
		"skipped is terminal":                         {phase: v1alpha1.PhaseSkipped, want: false},
		"cancelled is terminal":                       {phase: v1alpha1.PhaseCancelled, want: false},
		"phase names are case-sensitive":              {phase: "completed", want: true},
		"an active phase being deleted is not active": {phase: v1alpha1.PhaseExecuting, deleting: true, want: false},
		"a fresh request being deleted is not active": {phase: "", deleting: true, want: false},
		"a terminal request being deleted stays so":   {phase: v1alpha1.PhaseFailed, deleting: true, want: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rr := &v1alpha1.RemediationRequest{Status: v1alpha1.RemediationRequestStatus{OverallPhase: tc.phase}}
			if tc.deleting {
				rr.DeletionTimestamp = &now
			}
			if got := IsActive(rr); got != tc.want {
				t.Errorf("IsActive(phase=%q, deleting=%v) = %v, want %v", tc.phase, tc.deleting, got, tc.want)
			}
		})
	}
	if IsActive(nil) {
		t.Error("IsActive(nil) = true, want false")
	}
}
