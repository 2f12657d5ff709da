package dedup

import (
	"context"
	"time"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// The gateway's view of who holds a fingerprint is wider than the webhook's.
// The webhook keeps at most one non-terminal RemediationRequest per
// fingerprint (IsActive). kubernaut's gateway, whose users rrguard serves,
// also refuses to start a new remediation while any request of the
// fingerprint ended in a way that asks for a pause: the orchestrator stopped
// it for a human (completionStatus.outcome ManualReviewRequired), or put the
// fingerprint in an exponential backoff (routingStatus.nextAllowedExecution
// in the future). Any request, not only the latest: others create requests
// too (kubernaut's API frontend, any client the webhook admits beside a
// suppressing request), and a newer one that ended well lifts neither a
// review only a human may lift nor a window still open. Signals that arrive meanwhile are counted on the
// suppressing request instead. This is a gateway decision only: a client
// that creates a request while one is suppressing is still admitted by the
// webhook.

// Suppresses reports whether rr keeps a new RemediationRequest for its
// fingerprint from being created at now, for the gateway (step G3): rr is active, or
// it is terminal and suppressing (isSuppressing). A request being deleted
// keeps nothing.
func Suppresses(rr *v1alpha1.RemediationRequest, now time.Time) bool {
	return IsActive(rr) || isSuppressing(rr, now)
}

// isSuppressing reports whether rr has ended but still holds its fingerprint
// back at now, by kubernaut's rules: it ended for manual review, or its
// backoff window (routingStatus.nextAllowedExecution) has not passed.
func isSuppressing(rr *v1alpha1.RemediationRequest, now time.Time) bool {
	return inReview(rr) || backoffUntil(rr, now) != nil
}

// ended reports whether rr is terminal and not being deleted: the requests
// whose status may still suppress.
func ended(rr *v1alpha1.RemediationRequest) bool {
	return rr != nil && rr.DeletionTimestamp == nil && IsTerminal(rr.Status.OverallPhase)
}

// inReview reports whether rr ended for manual review, which holds its
// fingerprint until the orchestrator's outcome says otherwise.
func inReview(rr *v1alpha1.RemediationRequest) bool {
	if !ended(rr) {
		return false
	}
	c := rr.Status.CompletionStatus
	return c != nil && c.Outcome == v1alpha1.OutcomeManualReviewRequired
}

// backoffUntil returns the end of rr's backoff window when rr ended and the
// window is still open at now, else nil.
func backoffUntil(rr *v1alpha1.RemediationRequest, now time.Time) *time.Time {
	if !ended(rr) || rr.Status.RoutingStatus == nil || rr.Status.RoutingStatus.NextAllowedExecution == nil {
		return nil
	}
	if until := rr.Status.RoutingStatus.NextAllowedExecution.Time; now.Before(until) {
		return &until
	}
	return nil
}

// Suppresses reports whether the resolution's holder keeps a new request
// for the fingerprint from being created at now (the gateway's rule).
func (r Resolution) Suppresses(now time.Time) bool {
	return r.Holder != nil && Suppresses(r.Holder, now)
}

// GatewayHolder picks, from every request stored with one fingerprint, the
// one the gateway counts a signal on at now: the holder the webhook would
// name (the oldest active request); else the newest request that ended for
// manual review (a human must act before anything new starts, however long
// that takes); else, of the requests inside their backoff window, the one
// whose window ends last, as kubernaut's gateway picks it. Every replica
// picks the same one from the same requests. Nil means a new request may be
// created.
func GatewayHolder(items []v1alpha1.RemediationRequest, now time.Time) *v1alpha1.RemediationRequest {
	if active := oldestActive(items, ""); active != nil {
		return active
	}
	var review, backoff *v1alpha1.RemediationRequest
	var backoffEnd time.Time
	for i := range items {
		rr := &items[i]
		if inReview(rr) {
			if review == nil || newer(rr, review) {
				review = rr
			}
			continue
		}
		if until := backoffUntil(rr, now); until != nil {
			if backoff == nil || until.After(backoffEnd) || (until.Equal(backoffEnd) && newer(rr, backoff)) {
				backoff, backoffEnd = rr, *until
			}
		}
	}
	if review != nil {
		return review
	}
	return backoff
}

// newer orders requests by creation, the name breaking ties.
func newer(a, b *v1alpha1.RemediationRequest) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return b.CreationTimestamp.Before(&a.CreationTimestamp)
	}
	return a.Name > b.Name
}

// ResolveForGateway is Resolve with the gateway's rule: the claim's holder
// when the claim exists and its holder is active (a forged claim's never
// is: Resolution.Foreign), else the request GatewayHolder picks from the
// field-selector List — any ended request of the fingerprint may suppress,
// not only the one the claim last went to. The caller decides with
// Resolution.Suppresses.
func (r Resolver) ResolveForGateway(ctx context.Context, ns, fp string, now time.Time) (Resolution, error) {
	res, claimed, err := r.ResolveClaim(ctx, ns, fp)
	if err != nil || (claimed && res.Active()) {
		return res, err
	}
	items, err := ListByFingerprint(ctx, r.Reader, ns, fp)
	if err != nil {
		return Resolution{}, err
	}
	return Resolution{Claim: res.Claim, Holder: GatewayHolder(items, now)}, nil
}
