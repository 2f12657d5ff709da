package webhook

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/rrguard/rrguard/scan"
)

// newScanJob returns the leader's scan (package scan), run every
// o.ScanInterval: it adopts with NewGuard's Guard, so with the webhook's
// own reads and grace, lists through the API reader in pages, records its
// Events as "rrguard-scan", and its audit lines to o.Audit.
func newScanJob(mgr manager.Manager, o Options) leaderJob {
	r := &scan.Runner{
		Scanner: &scan.Scanner{
			Reader:         mgr.GetAPIReader(),
			Adopter:        NewGuard(mgr.GetAPIReader(), mgr.GetClient(), o),
			ClaimRetention: o.ClaimRetention,
		},
		Recorder: mgr.GetEventRecorder("rrguard-scan"),
		Audit:    o.Audit,
		Log:      o.Log.WithName("scan"),
		Metrics:  scan.NewMetrics(o.Registerer),
	}
	return leaderJob{
		interval: o.ScanInterval,
		run: func(ctx context.Context) error {
			_, err := r.RunOnce(ctx)
			return err
		},
		log:    r.Log,
		failed: "scan failed; will retry",
	}
}
