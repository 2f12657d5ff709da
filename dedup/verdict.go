package dedup

import (
	"time"

	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// Reason is the machine-readable reason of a Verdict. The admission webhook
// adds Error and NotApplicable for requests that never reach the Guard.
type Reason string

// The reasons a Guard gives, and Invalid for a request it cannot decide on.
const (
	// ReasonUnique: the candidate is now the fingerprint's only holder.
	ReasonUnique Reason = "Unique"
	// ReasonReactivated: a terminal request moved back to an active phase
	// and holds the fingerprint again.
	ReasonReactivated Reason = "Reactivated"
	// ReasonDuplicate: another active request holds the fingerprint.
	ReasonDuplicate Reason = "Duplicate"
	// ReasonClaimInFlight: the claim's holder was admitted but is not
	// stored yet (a create, or a re-activation whose active status is not
	// stored yet) and may still be; look again shortly.
	ReasonClaimInFlight Reason = "ClaimInFlight"
	// ReasonInvalid: the request cannot be decided on (it does not parse,
	// or the object lacks what the protocol needs).
	ReasonInvalid Reason = "Invalid"
)

// ClaimAction says what a decision did to the claim.
type ClaimAction string

// The claim actions.
const (
	ClaimCreated   ClaimAction = "created"
	ClaimTakenOver ClaimAction = "takenOver"
	ClaimNone      ClaimAction = "none"
)

// Candidate is the RemediationRequest asking to hold a fingerprint: one being
// created, or one being moved from a terminal back to an active phase.
type Candidate struct {
	Namespace   string
	Name        string
	UID         types.UID
	Fingerprint string
	// Reactivation is set for a status update out of a terminal phase.
	Reactivation bool
	// StoredResourceVersion is, for a reactivation, the resourceVersion the
	// request is stored at while the update is being admitted (the
	// AdmissionRequest's oldObject). Until the request's resourceVersion
	// moves past it, its stored terminal phase does not show that the
	// update was admitted; the claim records it so that a concurrent
	// decision can tell (see PendingReactivationAnnotation).
	StoredResourceVersion string
}

// holderRef is c as the holder of a claim.
func (c Candidate) holderRef() HolderRef {
	h := HolderRef{Name: c.Name, UID: c.UID}
	if c.Reactivation {
		// A claim taken for a reactivation records the update it waits for.
		h.PendingResourceVersion = c.StoredResourceVersion
	}
	return h
}

// Verdict is the Guard's decision on a Candidate.
type Verdict struct {
	Allowed bool
	Reason  Reason
	// Holder is the active request that holds the fingerprint, for
	// ReasonDuplicate.
	Holder *v1alpha1.RemediationRequest
	// HolderName names the claim's holder for ReasonClaimInFlight, whose
	// object is not stored yet.
	HolderName string
	// RetryAfter is, for ReasonClaimInFlight, how much of the grace is left
	// as this replica judges the claim's age.
	RetryAfter time.Duration
	// Invalid says why, for ReasonInvalid.
	Invalid *Invalid
	// ClaimAction is what this decision did to the claim.
	ClaimAction ClaimAction
	// Conflicts counts the compare-and-swap losses (AlreadyExists or
	// Conflict) that sent the protocol back to its start.
	Conflicts int
	// Coalesced is set when the verdict followed from the decision made
	// for another candidate of the same batch (see Coalescer), without
	// reads of its own.
	Coalesced bool
}

// The verdicts, built in one place each.

func allow(r Reason, action ClaimAction) Verdict {
	return Verdict{Allowed: true, Reason: r, ClaimAction: action}
}

func duplicateOf(holder *v1alpha1.RemediationRequest, action ClaimAction) Verdict {
	return Verdict{Reason: ReasonDuplicate, Holder: holder, ClaimAction: action}
}

func claimInFlight(holder string, retryAfter time.Duration) Verdict {
	return Verdict{Reason: ReasonClaimInFlight, HolderName: holder, RetryAfter: retryAfter, ClaimAction: ClaimNone}
}
