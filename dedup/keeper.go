package dedup

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	// DefaultClaimRetention is how long a claim outlives its holder by
	// default.
	DefaultClaimRetention = 24 * time.Hour
	// MinClaimRetentionMargin is how much longer than the grace the
	// webhook's --claim-retention must be: a claim is deleted only long
	// after any write it vouched for is over, whatever an etcd commit's
	// delay or the sweeps' interval.
	MinClaimRetentionMargin = 10 * time.Minute
)

// ClaimKeeper decides the life of claims once their holders are done
// (docs/design.md, section 8). A claim of an incident that ended is
// kept for a while on purpose: the next incident of a known fingerprint is
// then decided with two Gets instead of a List. Losing a claim is always
// safe once its holder's write is over, because the Guard rebuilds it from
// the List; deleting one whose holder may still be stored is not. So a
// ClaimKeeper
//
//   - records on a claim that its holder was seen stored
//     (HolderStoredAnnotation, with the mark or on its own),
//   - marks a claim whose holder is gone, never stored or inactive
//     (InactiveSinceAnnotation, stamped for people to read),
//   - unmarks it when its holder is active again,
//   - and deletes a marked claim once this process has observed it
//     unchanged, at one resourceVersion, for the retention (never less than
//     the grace), on its own monotonic clock; unless its holder is not
//     stored and a List finds an active request of the fingerprint, which
//     then gets the claim.
//
// Every write is conditioned on the resourceVersion read, so a claim taken
// over meanwhile is left alone. Like the Guard's, its observations are its
// own: a new leader observes afresh, and a claim then outlives its holder
// by up to one more retention.
type ClaimKeeper struct {
	// Reader reads claims and holders from the API server directly.
	Reader client.Reader
	// Writer marks, unmarks and deletes claims.
	Writer client.Writer
	// Retention is how long a claim outlives its holder. Defaults to
	// DefaultClaimRetention; never less than Grace.
	Retention time.Duration
	// Grace is the Guard's grace. Defaults to DefaultClaimGrace.
	Grace time.Duration
	// Clock stamps the marks and times the observations. Defaults to the
	// real clock.
	Clock clock.PassiveClock

	mu sync.Mutex
	// seen is when each marked claim was first observed at its current
	// resourceVersion; rebuilt by every sweep from the claims it lists.
	seen map[types.UID]observed
}

// Swept is what one sweep did.
type Swept struct {
	Marked, Unmarked int
	// HandedOver counts the claims given to an active request of their
	// fingerprint instead of being deleted.
	HandedOver int
	// Deleted are the claims deleted, as they were last read.
	Deleted []Claim
	// Failed are the claims that could not be tended, by name, with why;
	// the next sweep tries again.
	Failed map[string]error
}

// RetentionPeriod returns the retention in force.
func (k *ClaimKeeper) RetentionPeriod() time.Duration {
	return max(orDefault(k.Retention, DefaultClaimRetention), orDefault(k.Grace, DefaultClaimGrace))
}

func (k *ClaimKeeper) clock() clock.PassiveClock {
	if k.Clock != nil {
		return k.Clock
	}
	return clock.RealClock{}
}

// Sweep tends every claim in namespace ns (every namespace when empty).
func (k *ClaimKeeper) Sweep(ctx context.Context, ns string) (Swept, error) {
	leases := &coordinationv1.LeaseList{}
	if err := k.Reader.List(ctx, leases, client.InNamespace(ns),
		client.MatchingLabels{ManagedByLabel: ManagedByValue}); err != nil {
		return Swept{}, fmt.Errorf("list claims: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	seen := make(map[types.UID]observed, len(k.seen))
	out := Swept{Failed: map[string]error{}}
	for i := range leases.Items {
		claim := Claim{Lease: &leases.Items[i]}
		if err := k.tend(ctx, claim, seen, &out); err != nil {
			out.Failed[claim.Lease.Namespace+"/"+claim.Lease.Name] = err
		}
	}
	k.seen = seen
	return out, nil
}

// tend marks, unmarks or deletes one claim, recording in seen the marked
// claims it keeps.
func (k *ClaimKeeper) tend(ctx context.Context, claim Claim, seen map[types.UID]observed, out *Swept) error {
	lease := claim.Lease
	holder, err := Resolver{Reader: k.Reader}.ClaimHolder(ctx, claim)
	if err != nil {
		return err
	}
	_, marked := lease.Annotations[InactiveSinceAnnotation]
	if lease.Annotations == nil {
		lease.Annotations = map[string]string{}
	}
	unrecorded := holder != nil && claim.HolderUID() != "" && !claim.HolderSeenStored()
	if unrecorded {
		// Seen stored under the UID the claim records: once it is gone,
		// it was deleted, and the Guard decides at once (step C7).
		lease.Annotations[HolderStoredAnnotation] = string(claim.HolderUID())
	}
	switch {
	case IsActive(holder) && (marked || unrecorded):
		delete(lease.Annotations, InactiveSinceAnnotation)
		if err := k.Writer.Update(ctx, lease); err != nil {
			return ignoreLost(err)
		}
		if marked {
			out.Unmarked++
		}
		return nil
	case IsActive(holder):
		return nil
	case !marked:
		lease.Annotations[InactiveSinceAnnotation] = k.clock().Now().UTC().Format(time.RFC3339)
		if err := k.Writer.Update(ctx, lease); err != nil {
			return ignoreLost(err)
		}
		seen[lease.UID] = observed{resourceVersion: lease.ResourceVersion, since: k.clock().Now()}
		out.Marked++
		return nil
	}
	o, ok := k.seen[lease.UID]
	if !ok || o.resourceVersion != lease.ResourceVersion {
		o = observed{resourceVersion: lease.ResourceVersion, since: k.clock().Now()}
	}
	if k.clock().Since(o.since) < k.RetentionPeriod() {
		seen[lease.UID] = o
		return nil
	}
	return k.remove(ctx, claim, holder == nil, out)
}

// remove deletes claim, its retention over; unstored says its holder is not
// stored, and then an active request of the fingerprint gets it instead.
func (k *ClaimKeeper) remove(ctx context.Context, claim Claim, unstored bool, out *Swept) error {
	if unstored {
		handed, err := k.handToActive(ctx, claim)
		if handed {
			out.HandedOver++
		}
		if err != nil || handed {
			return err
		}
	}
	lease := claim.Lease
	err := k.Writer.Delete(ctx, lease, client.Preconditions{UID: &lease.UID, ResourceVersion: &lease.ResourceVersion})
	if err != nil {
		return ignoreLost(err)
	}
	out.Deleted = append(out.Deleted, claim)
	return nil
}

// handToActive gives claim, whose holder is not stored, to the oldest
// active request of its fingerprint, if a List finds one. A holder that was
// never stored may have lost its name to an active request (two creates of
// one name), or stood beside one stored without a claim: deleting the claim
// would leave that request unclaimed, and the next create's admission
// resting on its own List.
func (k *ClaimKeeper) handToActive(ctx context.Context, claim Claim) (bool, error) {
	fp := strings.TrimPrefix(claim.Lease.Name, ClaimPrefix)
	active, err := Resolver{Reader: k.Reader}.listActive(ctx, claim.Lease.Namespace, fp, "")
	if err != nil || active == nil {
		return false, err
	}
	c, err := handClaim(ctx, k.Writer, claim, HolderRef{Name: active.Name, UID: active.UID}, k.clock().Now())
	return c != nil, err
}

// ignoreLost treats a lost compare-and-swap, or a claim already gone, as
// "someone else acted": the next sweep looks again.
func ignoreLost(err error) error {
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
