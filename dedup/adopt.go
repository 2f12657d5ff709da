package dedup

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// Adoption is what Guard.Adopt did for one fingerprint.
type Adoption struct {
	// Holder is the active RemediationRequest the claim vouches for after
	// the adoption (or would, in a dry run); nil when none is active, or
	// when the claim's holder is still in flight.
	Holder *v1alpha1.RemediationRequest
	// Action is what the adoption did to the claim: ClaimCreated for a
	// fingerprint that had none, ClaimTakenOver for a claim whose holder
	// had ended (or was never stored), ClaimNone otherwise. In a dry run it
	// is what the adoption would have done.
	Action ClaimAction
	// Conflicts counts the compare-and-swap losses that sent the adoption
	// back to its start.
	Conflicts int
}

// Adopt gives the claim of fingerprint fp in namespace ns to its oldest
// active RemediationRequest where the claim vouches for none: the
// fingerprint has no claim (its requests were created while no webhook
// guarded), or the claim's holder has ended, was never stored or is of
// another fingerprint (a forged claim) while an active request exists
// beside it. The next admission of fp then decides
// with two Gets instead of a List, and cannot take over a claim whose
// holder ended while another request of the incident is still active.
//
// Adopt runs the webhook's own steps (docs/design.md, steps S3 and S4): the
// Resolver's reads (steps C3 and C4), then the compare-and-swap create of
// step C1 or the conditioned update of step C10. So it is safe beside any number of
// concurrent admissions: each write either wins or loses (AlreadyExists,
// Conflict) and starts again from fresh reads, exactly as an admission
// does. It never writes a RemediationRequest, and a dry run writes
// nothing.
func (g *Guard) Adopt(ctx context.Context, ns, fp string, dryRun bool) (Adoption, error) {
	g.init()
	resolver := g.resolver()
	a, conflicts, err := casRounds(g.maxAttempts(), func() (Adoption, bool, error) {
		// No UID is excluded: every stored request is a candidate.
		res, err := resolver.Resolve(ctx, ns, fp, "")
		if err != nil {
			return Adoption{}, false, err
		}
		return g.adoptOnce(ctx, ns, fp, resolver, res, dryRun)
	})
	a.Conflicts = conflicts
	return a, err
}

// adoptOnce takes one step of Adopt on a fresh Resolution. retry means a
// compare-and-swap was lost.
func (g *Guard) adoptOnce(ctx context.Context, ns, fp string, resolver Resolver, res Resolution, dryRun bool) (a Adoption, retry bool, err error) {
	if res.Claim == nil {
		// Resolve has run the List: Holder is the oldest active request.
		if !res.Active() {
			return Adoption{Action: ClaimNone}, false, nil
		}
		a = Adoption{Holder: res.Holder, Action: ClaimCreated}
		if dryRun {
			return a, false, nil
		}
		err := g.Writer.Create(ctx, newClaimLease(ns, fp, HolderRef{Name: res.Holder.Name, UID: res.Holder.UID}, g.clock().Now()))
		switch {
		case err == nil:
			return a, false, nil
		case apierrors.IsAlreadyExists(err):
			return Adoption{}, true, nil
		default:
			return Adoption{}, false, fmt.Errorf("create claim %s/%s for %s: %w", ns, ClaimName(fp), res.Holder.Name, err)
		}
	}
	if res.Active() {
		return Adoption{Holder: res.Holder, Action: ClaimNone}, false, nil
	}
	if !res.Foreign && adoptionInFlight(*res.Claim, res.Holder, g.age.Age(*res.Claim) < g.grace()) {
		// An admission is under way; its outcome is the webhook's to settle.
		return Adoption{Action: ClaimNone}, false, nil
	}
	holder, err := resolver.listActive(ctx, ns, fp, "")
	if err != nil || holder == nil {
		// No active request: the claim is the janitor's to remove.
		return Adoption{Action: ClaimNone}, false, err
	}
	a = Adoption{Holder: holder, Action: ClaimTakenOver}
	if dryRun {
		return a, false, nil
	}
	moved, err := g.move(ctx, *res.Claim, HolderRef{Name: holder.Name, UID: holder.UID})
	switch {
	case err != nil:
		return Adoption{}, false, err
	case !moved:
		return Adoption{}, true, nil
	}
	return a, false, nil
}

// adoptionInFlight reports whether claim, whose holder as stored is holder
// (nil when not stored) and which is not active, may still be becoming
// active: its holder's create, or its reactivation, was admitted and may not
// be stored yet. young says whether this replica has observed the claim for
// less than the grace. It is the Guard's own reading of a claim (steps C7
// and C8): stored and inactive without a pending reactivation means the
// incident is over; not stored means in flight until the grace has passed.
// A scan that has never seen the claim finds it young, so it leaves every
// claim it meets for the first time to the webhook.
func adoptionInFlight(claim Claim, holder *v1alpha1.RemediationRequest, young bool) bool {
	if holder != nil && !pendingReactivation(claim, holder) {
		return false
	}
	return young
}
