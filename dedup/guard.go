package dedup

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// Reason is the machine-readable reason of a Verdict. The admission webhook
// adds Invalid and Error for requests that never reach the Guard.
type Reason string

// The reasons a Guard gives.
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
	// RetryAfter is how long a ReasonClaimInFlight denial should wait.
	RetryAfter time.Duration
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

// ErrTooManyConflicts is returned when the claim kept changing under the
// Guard for MaxAttempts rounds.
var ErrTooManyConflicts = errors.New("claim kept changing; too many compare-and-swap conflicts")

// Guard runs the claim protocol (docs/design.md, section 5) for admission:
// at most one active RemediationRequest per fingerprint and namespace,
// whoever creates it. Reader must read the API server directly; Writer writes claim Leases.
type Guard struct {
	Reader client.Reader
	Writer client.Writer

	// Grace is how long a claim whose holder is not stored (or whose
	// admitted re-activation is not stored) is presumed to be in flight
	// before it may be taken over.
	// Defaults to 10s: far longer than the gap between admission and
	// storage.
	Grace time.Duration
	// Timeout bounds one decision, well inside the webhook's timeout.
	// Defaults to 3s.
	Timeout time.Duration
	// MaxAttempts bounds the compare-and-swap retries. Defaults to 10.
	MaxAttempts int
	// Now returns the current time. Defaults to time.Now.
	Now func() time.Time
}

func (g *Guard) grace() time.Duration {
	if g.Grace > 0 {
		return g.Grace
	}
	return 10 * time.Second
}

func (g *Guard) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// Admit decides whether c may hold its fingerprint, taking the claim when it
// may. A dry run makes the same decision without writing anything.
func (g *Guard) Admit(ctx context.Context, c Candidate, dryRun bool) (Verdict, error) {
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	attempts := g.MaxAttempts
	if attempts <= 0 {
		attempts = 10
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	allowed := ReasonUnique
	if c.Reactivation {
		allowed = ReasonReactivated
	}
	self := HolderRef{Name: c.Name, UID: c.UID}
	resolver := Resolver{Reader: g.Reader}
	conflicts := 0
	for range attempts {
		res, err := resolver.Resolve(ctx, c.Namespace, c.Fingerprint, c.UID)
		if err != nil {
			return Verdict{Conflicts: conflicts}, err
		}
		v, retry, err := g.decide(ctx, c, self, res, allowed, dryRun)
		if err != nil {
			return Verdict{Conflicts: conflicts}, err
		}
		if !retry {
			v.Conflicts = conflicts
			return v, nil
		}
		conflicts++
	}
	return Verdict{Conflicts: conflicts}, ErrTooManyConflicts
}

// decide takes one step of the protocol on a fresh Resolution. retry means a
// compare-and-swap was lost and the protocol starts again.
func (g *Guard) decide(ctx context.Context, c Candidate, self HolderRef, res Resolution, allowed Reason, dryRun bool) (v Verdict, retry bool, err error) {
	if c.Reactivation {
		// A claim taken for a reactivation records the update it waits for.
		self.PendingResourceVersion = c.StoredResourceVersion
	}
	// Step 2: no claim. The List has run; rebuild the claim from it.
	if res.Claim == nil {
		if res.Active() {
			holder := res.Holder
			action := ClaimNone
			if !dryRun {
				err := g.Writer.Create(ctx, newClaimLease(c.Namespace, c.Fingerprint,
					HolderRef{Name: holder.Name, UID: holder.UID}, g.now()))
				switch {
				case err == nil:
					action = ClaimCreated
				case apierrors.IsAlreadyExists(err):
					return Verdict{}, true, nil
				default:
					// The denial stands on the List alone; the claim is
					// rebuilt by the next decision.
				}
			}
			return Verdict{Reason: ReasonDuplicate, Holder: holder, ClaimAction: action}, false, nil
		}
		if dryRun {
			return Verdict{Allowed: true, Reason: allowed, ClaimAction: ClaimNone}, false, nil
		}
		err := g.Writer.Create(ctx, newClaimLease(c.Namespace, c.Fingerprint, self, g.now()))
		switch {
		case err == nil:
			return Verdict{Allowed: true, Reason: allowed, ClaimAction: ClaimCreated}, false, nil
		case apierrors.IsAlreadyExists(err):
			return Verdict{}, true, nil
		default:
			return Verdict{}, false, fmt.Errorf("create claim %s/%s: %w", c.Namespace, ClaimName(c.Fingerprint), err)
		}
	}

	claim := *res.Claim
	// Step 3: the candidate holds the claim already (a retried request).
	if claim.HolderName() == c.Name {
		if claim.HolderUID() == c.UID && !c.Reactivation {
			return Verdict{Allowed: true, Reason: allowed, ClaimAction: ClaimNone}, false, nil
		}
		if claim.HolderUID() != c.UID && res.Active() {
			// A create under the name of the active holder itself: the
			// API server will refuse it as AlreadyExists, but handing it
			// the claim would leave the active holder unclaimed and the
			// claim to a UID never stored, which a later create takes
			// over once the grace has passed.
			return Verdict{Reason: ReasonDuplicate, Holder: res.Holder, ClaimAction: ClaimNone}, false, nil
		}
		// A retry of a create whose first attempt claimed under an
		// earlier UID: a name is unique, so that attempt was never stored.
		// Or the holder of an incident now over is being reactivated: it
		// takes the claim again, so that the claim records the pending
		// update and when it was admitted; otherwise its stored terminal
		// phase would let a create take the claim over (step 4) before
		// the update is stored.
		return g.takeOver(ctx, claim, self, allowed, dryRun)
	}

	// Step 4: another holder.
	// A holder still stored at the resourceVersion its admitted
	// reactivation replaces shows the phase that update is replacing: its
	// terminal phase no more means the incident is over than an unstored
	// holder's absence means its creation failed.
	pending := res.Holder != nil && claim.PendingReactivation() != "" &&
		claim.PendingReactivation() == res.Holder.ResourceVersion
	switch {
	case res.Active():
		return Verdict{Reason: ReasonDuplicate, Holder: res.Holder, ClaimAction: ClaimNone}, false, nil
	case res.Holder != nil && !pending:
		// Stored and inactive: the incident is over; the claim moves on.
		return g.takeOver(ctx, claim, self, allowed, dryRun)
	}
	age := g.now().Sub(claim.AcquiredAt())
	if age >= g.grace() {
		// Not stored (or not stored active) long after it was admitted:
		// that creation or reactivation failed.
		if res.Holder == nil {
			// A claim whose holder was never stored vouches for nothing:
			// an active request may have been created beside it while
			// the webhook was not guarding. This path is rare (a crashed
			// admission), so it can afford the List the claim otherwise
			// saves.
			holder, err := Resolver{Reader: g.Reader}.listActive(ctx, c.Namespace, c.Fingerprint, c.UID)
			if err != nil {
				return Verdict{}, false, err
			}
			if holder != nil {
				return g.handTo(ctx, claim, holder, dryRun)
			}
		}
		return g.takeOver(ctx, claim, self, allowed, dryRun)
	}
	return Verdict{
		Reason:      ReasonClaimInFlight,
		HolderName:  claim.HolderName(),
		RetryAfter:  g.grace() - age,
		ClaimAction: ClaimNone,
	}, false, nil
}

// handTo gives claim to holder, an active request found without a claim,
// and denies the candidate as its duplicate.
func (g *Guard) handTo(ctx context.Context, claim Claim, holder *v1alpha1.RemediationRequest, dryRun bool) (Verdict, bool, error) {
	deny := Verdict{Reason: ReasonDuplicate, Holder: holder, ClaimAction: ClaimNone}
	if dryRun {
		return deny, false, nil
	}
	moved, err := g.move(ctx, claim, HolderRef{Name: holder.Name, UID: holder.UID})
	switch {
	case err != nil:
		// The denial stands on the List alone; the next decision
		// finds the claim still stale and hands it on.
		return deny, false, nil
	case !moved:
		return Verdict{}, true, nil
	}
	deny.ClaimAction = ClaimTakenOver
	return deny, false, nil
}

// takeOver hands claim to self.
func (g *Guard) takeOver(ctx context.Context, claim Claim, self HolderRef, allowed Reason, dryRun bool) (Verdict, bool, error) {
	if dryRun {
		return Verdict{Allowed: true, Reason: allowed, ClaimAction: ClaimNone}, false, nil
	}
	moved, err := g.move(ctx, claim, self)
	switch {
	case err != nil:
		return Verdict{}, false, err
	case !moved:
		return Verdict{}, true, nil
	}
	return Verdict{Allowed: true, Reason: allowed, ClaimAction: ClaimTakenOver}, false, nil
}

// move gives claim to h with an update conditioned on the resourceVersion it
// was read at, so that the API server refuses it if anyone changed the claim
// since. moved is false when the claim was changed or deleted (by the
// janitor) since it was read: the protocol starts again.
func (g *Guard) move(ctx context.Context, claim Claim, h HolderRef) (moved bool, err error) {
	lease := claim.Lease.DeepCopy()
	setHolder(lease, h, g.now())
	lease.Spec.LeaseTransitions = ptr.To(ptr.Deref(lease.Spec.LeaseTransitions, 0) + 1)
	err = g.Writer.Update(ctx, lease)
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsConflict(err), apierrors.IsNotFound(err):
		return false, nil
	default:
		return false, fmt.Errorf("hand claim %s/%s to %s: %w", lease.Namespace, lease.Name, h.Name, err)
	}
}
