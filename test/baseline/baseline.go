package baseline

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/counter"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/gateway/httpapi"
	"github.com/rrguard/rrguard/gateway/pipeline"
	"github.com/rrguard/rrguard/gateway/signal"
)

// Counter counts each signal on its own; it implements httpapi.Counter so
// that it can be served by the gateway's real signal API.
type Counter struct {
	// Client reads (uncached) and writes the API server.
	Client client.Client
	// Namespace is where requests are looked up and created.
	Namespace string
	// Targets names each signal's object, as the pipeline's Targets.
	Targets pipeline.Targets
}

var _ httpapi.Counter = (*Counter)(nil)

// conflictBackoff retries a conflicted count practically forever,
// with a jittered millisecond pause: the baseline must not lose counts to
// a retry limit, only to its race.
var conflictBackoff = wait.Backoff{Steps: 10000, Duration: time.Millisecond, Factor: 1, Jitter: 1}

// Submit counts sig on the active request for fp, creating one when the
// List finds none.
func (n *Counter) Submit(ctx context.Context, sig *signal.Signal) (pipeline.Result, error) {
	fp, ignored, err := fingerprint(ctx, n.Targets, sig)
	if err != nil || ignored != nil {
		return deref(ignored), err
	}
	items, err := dedup.ListByFingerprint(ctx, n.Client, n.Namespace, fp)
	if err != nil {
		return pipeline.Result{}, fmt.Errorf("%w: list by fingerprint: %w", pipeline.ErrUnavailable, err)
	}
	var holder *v1alpha1.RemediationRequest
	for i := range items {
		if dedup.IsActive(&items[i]) {
			holder = &items[i]
			break
		}
	}
	outcome := pipeline.OutcomeDuplicate
	if holder == nil {
		// The same object the gateway creates (payload included), so
		// that both pay the same API server and etcd work per request.
		holder = signal.NewRemediationRequest(n.Namespace, fp, sig, time.Now())
		holder.GenerateName = "rr-baseline-"
		holder.Labels = map[string]string{"app.kubernetes.io/created-by": "rrguard-baseline"}
		if err := n.Client.Create(ctx, holder); err != nil {
			return pipeline.Result{}, fmt.Errorf("%w: create: %w", pipeline.ErrUnavailable, err)
		}
		outcome = pipeline.OutcomeCreated
	}
	key := client.ObjectKeyFromObject(holder)
	count, err := countOne(ctx, n.Client, key, conflictBackoff)
	if err != nil {
		return pipeline.Result{}, err
	}
	return pipeline.Result{Outcome: outcome, Fingerprint: fp, RemediationRequest: key, OccurrenceCount: count, Batch: 1}, nil
}

// countOne adds one to the count of the request key: a Get, then the
// gateway's patch of status.deduplication alone, conditioned on the
// resourceVersion read (an update would write back every status field as
// this process decoded it, and erase those it does not know), retried on
// conflict with backoff. It returns the count after it.
func countOne(ctx context.Context, c client.Client, key client.ObjectKey, backoff wait.Backoff) (int64, error) {
	var count int64
	err := retry.RetryOnConflict(backoff, func() error {
		rr := &v1alpha1.RemediationRequest{}
		if err := c.Get(ctx, key, rr); err != nil {
			return err
		}
		now := time.Now()
		var first time.Time
		if rr.Status.GetDeduplication().FirstSeenAt == nil {
			first = now
		}
		count = int64(rr.Status.GetDeduplication().OccurrenceCount) + 1
		return c.Status().Patch(ctx, rr, counter.DeduplicationPatch(rr.ResourceVersion, count, first, now))
	})
	if err != nil {
		return 0, fmt.Errorf("%w: count on %s: %w", pipeline.ErrUnavailable, key, err)
	}
	return count, nil
}

// fingerprint names sig's object with targets, as the pipeline does, and
// fingerprints it; a signal the resolution ignores comes back as the
// ignored result.
func fingerprint(ctx context.Context, targets pipeline.Targets, sig *signal.Signal) (string, *pipeline.Result, error) {
	if targets != nil {
		res, err := targets.Resolve(ctx, sig)
		if err != nil {
			return "", nil, fmt.Errorf("%w: resolve target: %w", pipeline.ErrUnavailable, err)
		}
		if res.Ignored != "" {
			return "", &pipeline.Result{Outcome: pipeline.OutcomeIgnored, Reason: res.Ignored}, nil
		}
		sig.Target = res.Target
	}
	fp, err := sig.Fingerprint()
	return fp, nil, err
}

func deref(r *pipeline.Result) pipeline.Result {
	if r == nil {
		return pipeline.Result{}
	}
	return *r
}
