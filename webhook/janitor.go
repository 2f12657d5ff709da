package webhook

import (
	"context"
	"time"

	"github.com/go-logr/logr"

	"github.com/rrguard/rrguard/dedup"
)

// InactiveSinceAnnotation is the mark a claim carries while its holder is
// gone or inactive (dedup.InactiveSinceAnnotation).
const InactiveSinceAnnotation = dedup.InactiveSinceAnnotation

// Janitor schedules the claims' end of life: every Interval it has its
// dedup.ClaimKeeper sweep, which decides what to mark, unmark and delete
// (docs/design.md, section 8). It runs on the elected leader only.
type Janitor struct {
	// Keeper decides; it must be the same one from sweep to sweep, since
	// it remembers what it observed.
	Keeper *dedup.ClaimKeeper
	// Namespace limits the sweep to one namespace; empty sweeps them all.
	Namespace string
	// Interval between sweeps. Defaults to the retention/24, at least 10s
	// and at most 10m.
	Interval time.Duration
	Log      logr.Logger
	Metrics  *Metrics
}

// Start sweeps at once, then every Interval, until ctx ends: the job Setup
// runs on the elected leader.
func (j *Janitor) Start(ctx context.Context) error { return j.job().Start(ctx) }

func (j *Janitor) job() leaderJob {
	interval := j.Interval
	if interval <= 0 {
		interval = min(max(j.Keeper.RetentionPeriod()/24, 10*time.Second), 10*time.Minute)
	}
	return leaderJob{
		interval: interval,
		run: func(ctx context.Context) error {
			_, err := j.Sweep(ctx)
			return err
		},
		log:    j.Log,
		failed: "claim sweep failed; will retry",
	}
}

// Sweep makes one pass over every claim and returns how many it removed.
func (j *Janitor) Sweep(ctx context.Context) (removed int, err error) {
	s, err := j.Keeper.Sweep(ctx, j.Namespace)
	if err != nil {
		return 0, err
	}
	for claim, err := range s.Failed {
		j.Log.Error(err, "sweep claim", "claim", claim)
	}
	if s.HandedOver > 0 {
		j.Log.Info("handed claims whose holder is not stored to the active request of their fingerprint", "claims", s.HandedOver)
	}
	for _, c := range s.Deleted {
		j.Log.Info("removed stale claim", "namespace", c.Lease.Namespace, "claim", c.Lease.Name,
			"holder", c.HolderName(), "inactiveSince", c.Lease.Annotations[InactiveSinceAnnotation])
	}
	if j.Metrics != nil {
		j.Metrics.janitorMarkedClaims.Add(float64(s.Marked))
		j.Metrics.staleClaimsRemoved.Add(float64(len(s.Deleted)))
	}
	return len(s.Deleted), nil
}
