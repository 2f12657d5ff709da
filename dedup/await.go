package dedup

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// The wait for a holder polls often at first, because a holder is normally
// stored within milliseconds of its admission, then backs off, so that a
// holder held up for long (by a slow co-installed webhook, say) costs twenty
// Gets a second. (apimachinery's wait.Backoff stops at its cap instead of
// staying there, so the loop is written out.)
const (
	holderPollFirst = 2 * time.Millisecond
	holderPollMax   = 50 * time.Millisecond
)

// awaitStored polls for h to be stored (under its UID, and past the
// resourceVersion its pending reactivation replaces) for at most the
// Guard's HolderWait within ctx, and returns it as stored; nil when the
// bound passed first or a read failed (the caller then answers
// ClaimInFlight, which is always safe).
func (g *Guard) awaitStored(ctx context.Context, ns string, h HolderRef) *v1alpha1.RemediationRequest {
	bound := g.holderWait()
	if bound <= 0 || h.Name == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	for delay := holderPollFirst; ; delay = min(delay*13/10, holderPollMax) {
		stored, done := g.holderStored(ctx, ns, h)
		if done {
			return stored
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// holderStored reads h once. done is set when waiting longer is pointless:
// h is stored (and returned), or a read failed, or another object took its
// name, so that it will never be stored.
func (g *Guard) holderStored(ctx context.Context, ns string, h HolderRef) (stored *v1alpha1.RemediationRequest, done bool) {
	rr := &v1alpha1.RemediationRequest{}
	err := g.Reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: h.Name}, rr)
	switch {
	case apierrors.IsNotFound(err):
		return nil, false
	case err != nil, h.UID != "" && rr.UID != h.UID:
		return nil, true
	case h.PendingResourceVersion != "" && rr.ResourceVersion == h.PendingResourceVersion:
		return nil, false
	}
	return rr, true
}
