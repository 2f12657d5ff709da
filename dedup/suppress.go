package dedup

import (
	"context"
	"time"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// The gateway's view of who holds a fingerprint is wider than the webhook's.
// The webhook keeps at most one non-terminal RemediationRequest per
// fingerprint (IsActive). kubernaut's gateway, whose users rrguard serves,
// also refuses to start a new remediation while the last one for the
// fingerprint ended in a way that asks for a pause: the orchestrator stopped
// it for a human (completionStatus.outcome ManualReviewRequired), or put the
// fingerprint in an exponential backoff (routingStatus.nextAllowedExecution
// in the future). Signals that arrive meanwhile are counted on that request
// instead. This is a gateway decision only: a client that creates a request
// while one is suppressing is still admitted by the webhook.

// Suppresses reports whether rr keeps a new RemediationRequest for its
// fingerprint from being created at now, for the gateway: rr is active, or
// it is terminal and suppressing (isSuppressing). A request being deleted
// keeps nothing.
func Suppresses(rr *v1alpha1.RemediationRequest, now time.Time) bool {
	return IsActive(rr) || isSuppressing(rr, now)
}

// isSuppressing reports whether rr has ended but still holds its fingerprint
// back at now, by kubernaut's rules: it ended for manual review, or its
// backoff window (routingStatus.nextAllowedExecution) has not passed.
func isSuppressing(rr *v1alpha1.RemediationRequest, now time.Time) bool {
	if rr == nil || rr.DeletionTimestamp != nil || !IsTerminal(rr.Status.OverallPhase) {
		return false
	}
	if c := rr.Status.CompletionStatus; c != nil && c.Outcome == v1alpha1.OutcomeManualReviewRequired {
		return true
	}
	r := rr.Status.RoutingStatus
	return r != nil && r.NextAllowedExecution != nil && now.Before(r.NextAllowedExecution.Time)
}

// Suppresses reports whether the resolution's holder keeps a new request
// for the fingerprint from being created at now (the gateway's rule).
func (r Resolution) Suppresses(now time.Time) bool {
	return r.Holder != nil && Suppresses(r.Holder, now)
}

// GatewayHolder picks, from every request stored with one fingerprint, the
// one the gateway counts a signal on at now: the holder the webhook would
// name (the oldest active request), or else the latest request — the one
// the claim last went to — when it is suppressing. Nil means a new request
// may be created.
func GatewayHolder(items []v1alpha1.RemediationRequest, now time.Time) *v1alpha1.RemediationRequest {
	if active := oldestActive(items, ""); active != nil {
		return active
	}
	var latest *v1alpha1.RemediationRequest
	for i := range items {
		rr := &items[i]
		if latest == nil || newer(rr, latest) {
			latest = rr
		}
	}
	if latest != nil && isSuppressing(latest, now) {
		return latest
	}
	return nil
}

// newer orders requests by creation, the name breaking ties.
func newer(a, b *v1alpha1.RemediationRequest) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return b.CreationTimestamp.Before(&a.CreationTimestamp)
	}
	return a.Name > b.Name
}

// ResolveForGateway is Resolve with the gateway's rule: the claim's holder
// when the claim exists (and is not forged), else the request
// GatewayHolder picks from the field-selector List. The caller decides with
// Resolution.Suppresses.
func (r Resolver) ResolveForGateway(ctx context.Context, ns, fp string, now time.Time) (Resolution, error) {
	res, claimed, err := r.ResolveClaim(ctx, ns, fp)
	if err != nil || claimed && !res.Foreign {
		return res, err
	}
	items, err := ListByFingerprint(ctx, r.Reader, ns, fp)
	if err != nil {
		return Resolution{}, err
	}
	return Resolution{Holder: GatewayHolder(items, now)}, nil
}
