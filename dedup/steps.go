package dedup

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// The steps of the claim protocol, numbered as in docs/design.md.

// claimFirst is step C1: create the claim for the candidate before reading
// anything. The name is the fingerprint, so exactly one create of it
// succeeds. Created: step C2. AlreadyExists: the claim is held; step C3.
func (d *decision) claimFirst(ctx context.Context) (Verdict, bool, error) {
	lease := newClaimLease(d.c.Namespace, d.c.Fingerprint, d.self, d.g.clock().Now())
	err := d.g.Writer.Create(ctx, lease)
	switch {
	case err == nil:
		claim := Claim{Lease: lease}
		d.g.seen.Observe(claim)
		return d.seekUnclaimed(ctx, claim, ClaimCreated)
	case apierrors.IsAlreadyExists(err):
		res, claimed, err := d.read(ctx)
		switch {
		case err != nil:
			return Verdict{}, false, err
		case !claimed:
			// Deleted (by the janitor) since the create: start again.
			return Verdict{}, true, nil
		}
		return d.held(ctx, res)
	default:
		return Verdict{}, false, fmt.Errorf("create claim %s/%s: %w", d.c.Namespace, ClaimName(d.c.Fingerprint), err)
	}
}

// seekUnclaimed is step C2: the candidate holds claim, which vouches for
// nothing yet: an active request may have been stored without a claim
// (created while the webhook was not guarding, or after its claim was
// deleted). The List finds it; it gets the claim and the candidate is its
// duplicate. The claim was written by this decision: created at step C1,
// or rewritten at step C5, as action says. If the look fails, a claim it
// created is deleted again, so that a failed decision does not block the
// fingerprint for the grace. One it rewrote is left: it named the
// candidate before, and an earlier request about the same candidate (a
// reactivation sent twice) may be admitted under it and not yet stored;
// deleting it would let a create in beside that write. Left, it is in
// flight, and taken over after the grace with a List (step C8).
func (d *decision) seekUnclaimed(ctx context.Context, claim Claim, action ClaimAction) (Verdict, bool, error) {
	holder, err := d.g.resolver().cachedActive(ctx, d.c.Namespace, d.c.Fingerprint, d.c.UID)
	if err != nil {
		if action == ClaimCreated {
			d.release(claim)
		}
		return Verdict{}, false, err
	}
	if holder == nil {
		return allow(d.allowed, action), false, nil
	}
	moved, err := d.g.move(ctx, claim, HolderRef{Name: holder.Name, UID: holder.UID})
	switch {
	case err != nil || !moved:
		// The denial stands on the List alone. The claim stays the
		// candidate's, which is never stored: after the grace, step C8
		// Lists again and hands it to holder.
		return duplicateOf(holder, ClaimNone), false, nil
	}
	return duplicateOf(holder, action), false, nil
}

// release deletes claim, written by this decision, if nobody changed it
// since: unchanged, it let nobody in, and the candidate, whose decision
// failed, is never admitted. Every admission writes the claim it is
// admitted under, so no release can delete that. The API server may be what failed the
// decision, so the delete is retried in the background for at most the
// grace; left behind, the claim is taken over after the grace (step C8).
func (d *decision) release(claim Claim) {
	g, l := d.g, claim.Lease
	run := g.background
	if run == nil {
		run = func(f func()) { go f() }
	}
	run(func() {
		ctx, cancel := context.WithTimeout(context.Background(), g.grace())
		defer cancel()
		_ = wait.ExponentialBackoffWithContext(ctx, releaseBackoff, func(ctx context.Context) (bool, error) {
			err := g.Writer.Delete(ctx, l, client.Preconditions{UID: &l.UID, ResourceVersion: &l.ResourceVersion})
			switch {
			case err == nil, apierrors.IsNotFound(err):
				g.seen.Forget(l.Namespace, l.Name)
				return true, nil
			case apierrors.IsConflict(err):
				// Changed since: no longer this decision's to delete.
				return true, nil
			}
			return false, nil
		})
	})
}

// releaseBackoff spaces the attempts of release: from 100 ms, doubling,
// past any grace (the grace's context ends them first).
var releaseBackoff = wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 16}

// read is step C3: the claim and its holder, two Gets. claimed is false when
// there is no claim.
func (d *decision) read(ctx context.Context) (Resolution, bool, error) {
	res, claimed, err := d.g.resolver().ResolveClaim(ctx, d.c.Namespace, d.c.Fingerprint)
	if err == nil && claimed {
		d.g.seen.Observe(*res.Claim)
		if res.Holder != nil {
			d.g.seen.SawStored(*res.Claim)
		}
	}
	return res, claimed, err
}

// unclaimed is step C4, for a dry run that found no claim: the look says
// whether an active request holds the fingerprint. Nothing is written: a
// create or a reactivation that finds no claim creates it first (step C1),
// so that the look runs after the claim exists, as step C2's does.
func (d *decision) unclaimed(ctx context.Context) (Verdict, bool, error) {
	holder, err := d.g.resolver().cachedActive(ctx, d.c.Namespace, d.c.Fingerprint, d.c.UID)
	switch {
	case err != nil:
		return Verdict{}, false, err
	case holder != nil:
		return duplicateOf(holder, ClaimNone), false, nil
	}
	return allow(d.allowed, ClaimNone), false, nil
}

// held decides against a claim that exists: step C5 (heldBySelf), step C6
// (an active holder: the candidate is its duplicate), step C7 (a holder
// stored and inactive, or deleted: over) and
// step C8 (inFlight). A candidate
// under the name the claim records but another UID is decided like any
// other: a name is unique, so at most one of the two is stored, and the one
// the claim records may still be (a slow co-installed webhook holds its
// create, or the candidate, being reactivated, is deleted before its update
// lands). Taking its claim would leave the claim naming a UID that loses to
// an active request of the same name.
func (d *decision) held(ctx context.Context, res Resolution) (Verdict, bool, error) {
	claim := *res.Claim
	switch {
	case res.Foreign:
		// Forged: it names a request of another fingerprint, vouches for
		// nothing and waits on no admission.
		return d.seekHolder(ctx, claim)
	case claim.HolderName() == d.c.Name && claim.HolderUID() == d.c.UID:
		return d.heldBySelf(ctx, res)
	}
	switch {
	case res.Active():
		// Step C6.
		return duplicateOf(res.Holder, ClaimNone), false, nil
	case res.Holder != nil && !pendingReactivation(claim, res.Holder),
		res.Holder == nil && d.g.seen.HolderDeleted(claim):
		// Step C7: stored and inactive, the incident is over; or seen
		// stored and gone now, so deleted, and never stored again: not
		// in flight either way. The claim moves on.
		return d.over(ctx, claim)
	}
	return d.inFlight(ctx, res)
}

// over is step C7: the claim's holder ended or was deleted. A claim written
// for a reactivation (it records the pending resourceVersion) named a
// holder that was stored when it was written, and the look of the decision
// that wrote it (step C2) may have failed: it vouches for nothing, and its
// holder, stored, never reads as in flight once its resourceVersion moves
// on. So it is taken over only after a List, as a claim in flight is past
// the grace (step C8). Every other claim named a holder stored only after
// its writer's look, or found active: it vouches.
func (d *decision) over(ctx context.Context, claim Claim) (Verdict, bool, error) {
	if claim.PendingReactivation() != "" {
		return d.seekHolder(ctx, claim)
	}
	return d.takeOver(ctx, claim)
}

// pendingReactivation reports whether holder is still stored at the
// resourceVersion its admitted reactivation replaces: its terminal phase is
// then the state that update is replacing, and no more means the incident
// is over than an unstored holder's absence means its creation failed.
func pendingReactivation(claim Claim, holder *v1alpha1.RemediationRequest) bool {
	return claim.PendingReactivation() != "" && claim.PendingReactivation() == holder.ResourceVersion
}

// heldBySelf is step C5: the claim names the candidate already. Either the
// API server asks again about a create it has not stored (its first answer
// was lost), or the candidate is being reactivated: its incident is over,
// or an earlier ask about the same reactivation wrote the claim. Either way
// the claim may vouch for nothing: the decision that wrote it may have
// failed at its look (step C2) and be releasing it, or have looked before
// a request stored out of reach that this decision must see. So the
// candidate writes the claim again, recording a reactivation's pending
// update (step C8 then waits for it), and decides as if it had just
// created it (step C2). The release of a failed earlier decision deletes
// only the resourceVersion it wrote, so it cannot take the claim from under
// what this decision admits.
func (d *decision) heldBySelf(ctx context.Context, res Resolution) (Verdict, bool, error) {
	if d.dryRun {
		return allow(d.allowed, ClaimNone), false, nil
	}
	written, err := d.g.hand(ctx, *res.Claim, d.self)
	if err != nil || written == nil {
		return Verdict{}, written == nil && err == nil, err
	}
	return d.seekUnclaimed(ctx, *written, ClaimTakenOver)
}

// inFlight is step C8: the holder is not stored, or its admitted
// reactivation is not. It may still be, until the grace has passed as this
// replica observes the claim; then its write has failed for good.
func (d *decision) inFlight(ctx context.Context, res Resolution) (Verdict, bool, error) {
	claim := *res.Claim
	age := d.g.age.Age(claim)
	if age < d.g.grace() {
		return d.awaitHolder(ctx, claim, d.g.grace()-age)
	}
	// A claim whose holder's write failed for good vouches for nothing:
	// the look of the decision that wrote it (step C2) may have failed or
	// never run (the decision crashed after writing the claim).
	return d.seekHolder(ctx, claim)
}

// seekHolder decides against a claim that vouches for no request (its
// holder's write failed for good, its holder is a reactivation's whose
// look may have failed, or it is forged): the List finds an active request stored
// without a vouching claim, which gets the claim, and the candidate is its
// duplicate; none, and the candidate takes the claim over. This path is
// rare, so it can afford the List.
func (d *decision) seekHolder(ctx context.Context, claim Claim) (Verdict, bool, error) {
	holder, err := d.g.resolver().listActive(ctx, d.c.Namespace, d.c.Fingerprint, d.c.UID)
	if err != nil {
		return Verdict{}, false, err
	}
	if holder != nil {
		return d.handTo(ctx, claim, holder)
	}
	return d.takeOver(ctx, claim)
}

// awaitHolder is step C9: inside the grace, wait a little for the holder to
// be stored, so that the candidate learns who holds the fingerprint instead
// of being asked to come back. left is what remains of the grace.
func (d *decision) awaitHolder(ctx context.Context, claim Claim, left time.Duration) (Verdict, bool, error) {
	start := d.g.clock().Now()
	h := HolderRef{Name: claim.HolderName(), UID: claim.HolderUID(), PendingResourceVersion: claim.PendingReactivation()}
	stored := d.g.awaitStored(ctx, claim.Lease.Namespace, h)
	switch {
	case stored != nil && !claim.Vouches(stored):
		return d.seekHolder(ctx, claim)
	case stored != nil && IsActive(stored):
		return duplicateOf(stored, ClaimNone), false, nil
	case stored != nil:
		// Stored and already over: step C7.
		return d.over(ctx, claim)
	}
	return claimInFlight(claim.HolderName(), max(left-d.g.clock().Since(start), 0)), false, nil
}

// handTo gives claim to holder, an active request found without a claim,
// and denies the candidate as its duplicate.
func (d *decision) handTo(ctx context.Context, claim Claim, holder *v1alpha1.RemediationRequest) (Verdict, bool, error) {
	if d.dryRun {
		return duplicateOf(holder, ClaimNone), false, nil
	}
	moved, err := d.g.move(ctx, claim, HolderRef{Name: holder.Name, UID: holder.UID})
	switch {
	case err != nil:
		// The denial stands on the List alone; the next decision finds
		// the claim still stale and hands it on.
		return duplicateOf(holder, ClaimNone), false, nil
	case !moved:
		return Verdict{}, true, nil
	}
	return duplicateOf(holder, ClaimTakenOver), false, nil
}

// takeOver hands claim to the candidate.
func (d *decision) takeOver(ctx context.Context, claim Claim) (Verdict, bool, error) {
	if d.dryRun {
		return allow(d.allowed, ClaimNone), false, nil
	}
	moved, err := d.g.move(ctx, claim, d.self)
	switch {
	case err != nil:
		return Verdict{}, false, err
	case !moved:
		return Verdict{}, true, nil
	}
	return allow(d.allowed, ClaimTakenOver), false, nil
}

// move is step C10: it gives claim to h with an update conditioned on the
// resourceVersion it was read at, so that the API server refuses it if
// anyone changed the claim since. moved is false when the claim was changed
// or deleted (by the janitor) since it was read: the protocol starts again.
func (g *Guard) move(ctx context.Context, claim Claim, h HolderRef) (moved bool, err error) {
	c, err := g.hand(ctx, claim, h)
	return c != nil, err
}

// hand is move, returning the claim as written (nil when it was lost).
func (g *Guard) hand(ctx context.Context, claim Claim, h HolderRef) (*Claim, error) {
	c, err := handClaim(ctx, g.Writer, claim, h, g.clock().Now())
	if c != nil {
		g.seen.Observe(*c)
	}
	return c, err
}

// handClaim updates claim to name h as of now, conditioned on the
// resourceVersion it was read at; it returns the claim as written, or nil
// when the claim changed or went since it was read.
func handClaim(ctx context.Context, w client.Writer, claim Claim, h HolderRef, now time.Time) (*Claim, error) {
	lease := claim.Lease.DeepCopy()
	setHolder(lease, h, now)
	lease.Spec.LeaseTransitions = ptr.To(ptr.Deref(lease.Spec.LeaseTransitions, 0) + 1)
	err := w.Update(ctx, lease)
	switch {
	case err == nil:
		return &Claim{Lease: lease}, nil
	case apierrors.IsConflict(err), apierrors.IsNotFound(err):
		return nil, nil
	default:
		return nil, fmt.Errorf("hand claim %s/%s to %s: %w", lease.Namespace, lease.Name, h.Name, err)
	}
}
