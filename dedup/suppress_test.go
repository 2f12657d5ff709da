package dedup

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// suppressing builds a request in phase, ended with outcome, in backoff
// until nextAllowed (none when zero).
func suppressing(name string, created time.Time, phase v1alpha1.Phase, outcome string, nextAllowed time.Time) v1alpha1.RemediationRequest {
	rr := v1alpha1.RemediationRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(created)},
		Status:     v1alpha1.RemediationRequestStatus{OverallPhase: phase},
	}
	if outcome != "" {
		rr.Status.CompletionStatus = &v1alpha1.CompletionStatus{Outcome: outcome}
	}
	if !nextAllowed.IsZero() {
		t := metav1.NewTime(nextAllowed)
		rr.Status.RoutingStatus = &v1alpha1.RoutingStatus{NextAllowedExecution: &t}
	}
	return rr
}

func TestSuppresses(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	mrr := v1alpha1.OutcomeManualReviewRequired
	tests := map[string]struct {
		rr          v1alpha1.RemediationRequest
		deleting    bool
		suppressing bool // isSuppressing
		suppresses  bool // Suppresses
	}{
		"an active request holds":                       {rr: suppressing("a", now, v1alpha1.PhaseExecuting, "", time.Time{}), suppresses: true},
		"an active request with a past window holds":    {rr: suppressing("a", now, v1alpha1.PhaseBlocked, "", now.Add(-time.Hour)), suppresses: true},
		"completed and remediated does not":             {rr: suppressing("a", now, v1alpha1.PhaseCompleted, "Remediated", time.Time{})},
		"completed for manual review suppresses":        {rr: suppressing("a", now, v1alpha1.PhaseCompleted, mrr, time.Time{}), suppressing: true, suppresses: true},
		"failed for manual review suppresses":           {rr: suppressing("a", now, v1alpha1.PhaseFailed, mrr, time.Time{}), suppressing: true, suppresses: true},
		"manual review with a past window suppresses":   {rr: suppressing("a", now, v1alpha1.PhaseFailed, mrr, now.Add(-time.Hour)), suppressing: true, suppresses: true},
		"failed with its window a second ahead":         {rr: suppressing("a", now, v1alpha1.PhaseFailed, "", now.Add(time.Second)), suppressing: true, suppresses: true},
		"failed with its window ending now does not":    {rr: suppressing("a", now, v1alpha1.PhaseFailed, "", now)},
		"failed with its window a second past does not": {rr: suppressing("a", now, v1alpha1.PhaseFailed, "", now.Add(-time.Second))},
		"timed out in backoff suppresses":               {rr: suppressing("a", now, v1alpha1.PhaseTimedOut, "", now.Add(time.Minute)), suppressing: true, suppresses: true},
		"outcome names are case-sensitive":              {rr: suppressing("a", now, v1alpha1.PhaseCompleted, "manualreviewrequired", time.Time{})},
		"a suppressing request being deleted does not":  {rr: suppressing("a", now, v1alpha1.PhaseFailed, mrr, now.Add(time.Hour)), deleting: true},
		"terminal without routing or completion status": {rr: suppressing("a", now, v1alpha1.PhaseFailed, "", time.Time{})},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rr := tc.rr
			if tc.deleting {
				rr.DeletionTimestamp = &metav1.Time{Time: now}
			}
			if got := isSuppressing(&rr, now); got != tc.suppressing {
				t.Errorf("isSuppressing = %v, want %v", got, tc.suppressing)
			}
			if got := Suppresses(&rr, now); got != tc.suppresses {
				t.Errorf("Suppresses = %v, want %v", got, tc.suppresses)
			}
		})
	}
	if Suppresses(nil, now) || isSuppressing(nil, now) {
		t.Error("a missing request suppresses")
	}
}

func TestGatewayHolder(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	older, newer := now.Add(-2*time.Hour), now.Add(-time.Hour)
	mrr := v1alpha1.OutcomeManualReviewRequired
	tests := map[string]struct {
		items []v1alpha1.RemediationRequest
		want  string
	}{
		"none":                        {},
		"only ended":                  {items: []v1alpha1.RemediationRequest{suppressing("a", older, v1alpha1.PhaseCompleted, "", time.Time{})}},
		"the active one":              {items: []v1alpha1.RemediationRequest{suppressing("a", older, v1alpha1.PhaseCompleted, mrr, time.Time{}), suppressing("b", newer, v1alpha1.PhaseProcessing, "", time.Time{})}, want: "b"},
		"the oldest active":           {items: []v1alpha1.RemediationRequest{suppressing("b", newer, "", "", time.Time{}), suppressing("a", older, "", "", time.Time{})}, want: "a"},
		"the latest if it suppresses": {items: []v1alpha1.RemediationRequest{suppressing("a", older, v1alpha1.PhaseFailed, "", time.Time{}), suppressing("b", newer, v1alpha1.PhaseFailed, "", now.Add(time.Minute))}, want: "b"},
		// Any ended request may suppress: a newer one that ended well
		// lifts neither an older one's review nor its window.
		"an older one under review":     {items: []v1alpha1.RemediationRequest{suppressing("a", older, v1alpha1.PhaseFailed, mrr, time.Time{}), suppressing("b", newer, v1alpha1.PhaseCompleted, "Remediated", time.Time{})}, want: "a"},
		"an older one in its window":    {items: []v1alpha1.RemediationRequest{suppressing("a", older, v1alpha1.PhaseTimedOut, "", now.Add(time.Hour)), suppressing("b", newer, v1alpha1.PhaseCompleted, "Remediated", time.Time{})}, want: "a"},
		"the newest under review":       {items: []v1alpha1.RemediationRequest{suppressing("a", older, v1alpha1.PhaseFailed, mrr, time.Time{}), suppressing("b", newer, v1alpha1.PhaseCompleted, mrr, time.Time{})}, want: "b"},
		"a review over a longer window": {items: []v1alpha1.RemediationRequest{suppressing("a", older, v1alpha1.PhaseFailed, mrr, time.Time{}), suppressing("b", newer, v1alpha1.PhaseFailed, "", now.Add(24*time.Hour))}, want: "a"},
		"the window that ends last":     {items: []v1alpha1.RemediationRequest{suppressing("a", older, v1alpha1.PhaseFailed, "", now.Add(2*time.Hour)), suppressing("b", newer, v1alpha1.PhaseFailed, "", now.Add(time.Hour))}, want: "a"},
		"equal windows, the newer":      {items: []v1alpha1.RemediationRequest{suppressing("a", older, v1alpha1.PhaseFailed, "", now.Add(time.Hour)), suppressing("b", newer, v1alpha1.PhaseFailed, "", now.Add(time.Hour))}, want: "b"},
		"windows all passed":            {items: []v1alpha1.RemediationRequest{suppressing("a", older, v1alpha1.PhaseFailed, "", now.Add(-time.Hour)), suppressing("b", newer, v1alpha1.PhaseFailed, "", now)}},
		"same creation, the later name": {items: []v1alpha1.RemediationRequest{suppressing("b", older, v1alpha1.PhaseFailed, mrr, time.Time{}), suppressing("a", older, v1alpha1.PhaseFailed, mrr, time.Time{})}, want: "b"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := GatewayHolder(tc.items, now)
			switch {
			case tc.want == "" && got != nil:
				t.Errorf("holder %s, want none", got.Name)
			case tc.want != "" && (got == nil || got.Name != tc.want):
				t.Errorf("holder %v, want %s", got, tc.want)
			}
		})
	}
}
