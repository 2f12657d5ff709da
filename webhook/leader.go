package webhook

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// leaderJob runs run at once, then every interval, on the elected leader
// only, until its context ends: the janitor's sweeps and the scans. A
// failed run is logged as failed says; the next one retries.
type leaderJob struct {
	interval time.Duration
	run      func(context.Context) error
	log      logr.Logger
	failed   string
}

var (
	_ manager.Runnable               = leaderJob{}
	_ manager.LeaderElectionRunnable = leaderJob{}
)

// NeedLeaderElection is true: one replica runs the job at a time.
func (leaderJob) NeedLeaderElection() bool { return true }

func (l leaderJob) Start(ctx context.Context) error {
	wait.NonSlidingUntilWithContext(ctx, func(ctx context.Context) {
		if err := l.run(ctx); err != nil && ctx.Err() == nil {
			l.log.Error(err, l.failed, "interval", l.interval)
		}
	}, l.interval)
	return nil
}
