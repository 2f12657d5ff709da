package webhook

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/rrguard/rrguard/dedup"
)

// InactiveSinceAnnotation records on a claim when the janitor first saw its
// holder gone or inactive. A request records no time of its own when it
// ends, so the janitor measures retention from this mark. Every change of
// holder clears it (dedup.InactiveSinceAnnotation is the same name).
const InactiveSinceAnnotation = dedup.InactiveSinceAnnotation

// Janitor deletes claims whose holder has been gone or inactive for longer
// than Retention. Claims of recently ended incidents are kept on purpose:
// the next incident of a known fingerprint is then decided with two Gets
// instead of a List (docs/design.md, section 8). Losing a claim is always
// safe; the Guard rebuilds it from the List.
type Janitor struct {
	// Reader reads claims and holders from the API server directly.
	Reader client.Reader
	// Writer marks and deletes claims.
	Writer client.Writer
	// Namespace limits the sweep to one namespace; empty sweeps them all.
	Namespace string
	// Retention is how long a claim outlives its holder. Defaults to 24h.
	Retention time.Duration
	// Interval between sweeps. Defaults to Retention/24, at least 10s and
	// at most 10m.
	Interval time.Duration
	// Now returns the current time. Defaults to time.Now.
	Now     func() time.Time
	Log     logr.Logger
	Metrics *Metrics
}

var (
	_ manager.Runnable               = (*Janitor)(nil)
	_ manager.LeaderElectionRunnable = (*Janitor)(nil)
)

// NeedLeaderElection is true: one janitor sweeps at a time.
func (j *Janitor) NeedLeaderElection() bool { return true }

func (j *Janitor) retention() time.Duration {
	if j.Retention > 0 {
		return j.Retention
	}
	return 24 * time.Hour
}

func (j *Janitor) interval() time.Duration {
	if j.Interval > 0 {
		return j.Interval
	}
	return min(max(j.retention()/24, 10*time.Second), 10*time.Minute)
}

func (j *Janitor) now() time.Time {
	if j.Now != nil {
		return j.Now()
	}
	return time.Now()
}

// Start sweeps every Interval until ctx ends.
func (j *Janitor) Start(ctx context.Context) error {
	t := time.NewTicker(j.interval())
	defer t.Stop()
	for {
		if _, err := j.Sweep(ctx); err != nil {
			j.Log.Error(err, "claim sweep failed; will retry", "interval", j.interval())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sweep makes one pass over every claim and returns how many it removed.
func (j *Janitor) Sweep(ctx context.Context) (removed int, err error) {
	leases := &coordinationv1.LeaseList{}
	if err := j.Reader.List(ctx, leases, client.InNamespace(j.Namespace),
		client.MatchingLabels{dedup.ManagedByLabel: dedup.ManagedByValue}); err != nil {
		return 0, fmt.Errorf("list claims: %w", err)
	}
	resolver := dedup.Resolver{Reader: j.Reader}
	for i := range leases.Items {
		lease := &leases.Items[i]
		gone, err := j.sweepOne(ctx, resolver, lease)
		if err != nil {
			j.Log.Error(err, "sweep claim", "namespace", lease.Namespace, "claim", lease.Name)
			continue
		}
		if gone {
			removed++
		}
	}
	return removed, nil
}

// sweepOne marks, unmarks or deletes one claim. Every write is conditioned
// on the resourceVersion read, so a claim taken over meanwhile is left alone.
func (j *Janitor) sweepOne(ctx context.Context, resolver dedup.Resolver, lease *coordinationv1.Lease) (bool, error) {
	holder, err := resolver.ClaimHolder(ctx, dedup.Claim{Lease: lease})
	if err != nil {
		return false, err
	}
	mark, marked := lease.Annotations[InactiveSinceAnnotation]
	if dedup.IsActive(holder) {
		if !marked {
			return false, nil
		}
		delete(lease.Annotations, InactiveSinceAnnotation)
		return false, ignoreConflict(j.Writer.Update(ctx, lease))
	}
	since, perr := time.Parse(time.RFC3339, mark)
	if !marked || perr != nil {
		if lease.Annotations == nil {
			lease.Annotations = map[string]string{}
		}
		lease.Annotations[InactiveSinceAnnotation] = j.now().UTC().Format(time.RFC3339)
		if err := j.Writer.Update(ctx, lease); err != nil {
			return false, ignoreConflict(err)
		}
		if j.Metrics != nil {
			j.Metrics.janitorMarkedClaims.Inc()
		}
		return false, nil
	}
	if j.now().Sub(since) < j.retention() {
		return false, nil
	}
	err = j.Writer.Delete(ctx, lease, client.Preconditions{UID: &lease.UID, ResourceVersion: &lease.ResourceVersion})
	if err != nil {
		return false, ignoreConflict(err)
	}
	if j.Metrics != nil {
		j.Metrics.staleClaimsRemoved.Inc()
	}
	j.Log.Info("removed stale claim", "namespace", lease.Namespace, "claim", lease.Name,
		"holder", dedup.Claim{Lease: lease}.HolderName(), "inactiveSince", mark)
	return true, nil
}

// ignoreConflict treats a lost compare-and-swap, or a claim already gone, as
// "someone else acted": the next sweep looks again.
func ignoreConflict(err error) error {
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
