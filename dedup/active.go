package dedup

import (
	"slices"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// terminalPhases are the phases after which a RemediationRequest no longer
// holds its incident.
var terminalPhases = map[v1alpha1.Phase]bool{
	v1alpha1.PhaseCompleted: true,
	v1alpha1.PhaseFailed:    true,
	v1alpha1.PhaseTimedOut:  true,
	v1alpha1.PhaseSkipped:   true,
	v1alpha1.PhaseCancelled: true,
}

// TerminalPhases returns the terminal phases, sorted, for those that must
// spell the rule out elsewhere (the webhook's CEL matchConditions).
func TerminalPhases() []v1alpha1.Phase {
	out := make([]v1alpha1.Phase, 0, len(terminalPhases))
	for p := range terminalPhases {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// IsTerminal reports whether phase ends a remediation. The empty phase (a
// fresh request) and any phase this code does not know are not terminal: an
// unknown phase is more likely a newer kubernaut's in-flight step than an
// end, and treating it as active errs towards refusing a duplicate.
func IsTerminal(phase v1alpha1.Phase) bool {
	return terminalPhases[phase]
}

// IsActive reports whether rr holds its fingerprint: it is not being deleted
// and its phase is not terminal.
func IsActive(rr *v1alpha1.RemediationRequest) bool {
	if rr == nil || rr.DeletionTimestamp != nil {
		return false
	}
	return !IsTerminal(rr.Status.OverallPhase)
}
