package pipeline

// Outcome is what became of a signal: the one name the gateway's answers,
// audit lines and metrics use for it.
type Outcome string

// The outcomes of a signal. Submit returns the first two, and Ignored for a
// target out of scope; the others are decided before a signal reaches it
// (Ignored, and Rejected for a payload that cannot be parsed) or from its
// error (Rejected, Failed).
const (
	// OutcomeCreated: the signal's RemediationRequest was created for it.
	OutcomeCreated Outcome = "created"
	// OutcomeDuplicate: the signal was counted on an existing request.
	OutcomeDuplicate Outcome = "duplicate"
	// OutcomeIgnored: the signal asks for nothing (a resolved alert, a
	// Normal event) or its target is out of kubernaut's management scope,
	// and it was not counted.
	OutcomeIgnored Outcome = "ignored"
	// OutcomeRejected: the signal can never be counted as sent.
	OutcomeRejected Outcome = "rejected"
	// OutcomeFailed: the signal was not counted now; sending it again may
	// succeed.
	OutcomeFailed Outcome = "failed"
)

// Outcomes lists every outcome, in the order above.
var Outcomes = []Outcome{OutcomeCreated, OutcomeDuplicate, OutcomeIgnored, OutcomeRejected, OutcomeFailed}
