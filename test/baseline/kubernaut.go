package baseline

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/gateway/httpapi"
	"github.com/rrguard/rrguard/gateway/pipeline"
	"github.com/rrguard/rrguard/gateway/signal"
)

// The facts of kubernaut's gateway lock (pkg/gateway/processing at kubernaut
// commit d5a4a870): a Lease per fingerprint named after its first 16
// characters, held for 30 s, its holder the gateway pod; a contended signal
// backs off 100 ms, doubling to at most 1 s with ±10% jitter, looks for an
// active request again after each pause, and gives up after 10 attempts.
const (
	kubernautLockPrefix   = "gw-lock-"
	kubernautLockDuration = 30 * time.Second
	kubernautLockAttempts = 10
	kubernautBackoffBase  = 100 * time.Millisecond
	kubernautBackoffMax   = time.Second
)

// KubernautCounter is kubernaut's own per-signal design, for benchmarks
// only: per signal, take the fingerprint's lock Lease (Get; NotFound →
// Create; held by another → back off and retry; expired → take over by
// Update), then the field-selector List, then a create or a conflict-retried
// count (Get + a resourceVersion-conditioned write of status.deduplication),
// then release the lock (Get + Delete). It is what a kubernaut user runs
// today, measured beside rrguard on the same API server.
type KubernautCounter struct {
	// Client reads (uncached) and writes the API server.
	Client client.Client
	// Namespace is where requests and locks live.
	Namespace string
	// Replicas is how many gateway pods the signals are spread over, round
	// robin, as a Service spreads them. kubernaut's lock holder is the pod,
	// so signals on one pod share the lock; only other pods contend for
	// it. Defaults to 2.
	Replicas int
	// Targets names each signal's object, as the pipeline's Targets.
	Targets pipeline.Targets

	next atomic.Uint64
}

var _ httpapi.Counter = (*KubernautCounter)(nil)

// Submit counts sig the way kubernaut's gateway does.
func (k *KubernautCounter) Submit(ctx context.Context, sig *signal.Signal) (pipeline.Result, error) {
	fp, ignored, err := fingerprint(ctx, k.Targets, sig)
	if err != nil || ignored != nil {
		return deref(ignored), err
	}
	replicas := k.Replicas
	if replicas <= 0 {
		replicas = 2
	}
	pod := fmt.Sprintf("gateway-%d", k.next.Add(1)%uint64(replicas))

	for attempt := 1; ; attempt++ {
		acquired, err := k.acquire(ctx, fp, pod)
		if err != nil {
			return pipeline.Result{}, fmt.Errorf("%w: acquire lock: %w", pipeline.ErrUnavailable, err)
		}
		if acquired {
			defer k.release(ctx, fp, pod)
			break
		}
		if attempt >= kubernautLockAttempts {
			return pipeline.Result{}, fmt.Errorf("%w: lock for %s still held after %d attempts", pipeline.ErrUnavailable, fp, attempt)
		}
		time.Sleep(kubernautBackoff(attempt))
		// Another pod may have created the request meanwhile.
		holder, err := k.active(ctx, fp)
		if err != nil {
			return pipeline.Result{}, err
		}
		if holder != nil {
			return k.count(ctx, fp, holder, pipeline.OutcomeDuplicate)
		}
	}

	holder, err := k.active(ctx, fp)
	if err != nil {
		return pipeline.Result{}, err
	}
	if holder != nil {
		return k.count(ctx, fp, holder, pipeline.OutcomeDuplicate)
	}
	holder = signal.NewRemediationRequest(k.Namespace, fp, sig, time.Now())
	holder.GenerateName = "rr-kubernaut-"
	holder.Labels = map[string]string{"app.kubernetes.io/created-by": "rrguard-kubernaut-baseline"}
	if err := k.Client.Create(ctx, holder); err != nil {
		return pipeline.Result{}, fmt.Errorf("%w: create: %w", pipeline.ErrUnavailable, err)
	}
	return k.count(ctx, fp, holder, pipeline.OutcomeCreated)
}

// kubernautBackoff is the pause after the attempt-th contended try.
func kubernautBackoff(attempt int) time.Duration {
	d := kubernautBackoffBase << (attempt - 1)
	if d <= 0 || d > kubernautBackoffMax {
		d = kubernautBackoffMax
	}
	jitter := time.Duration(float64(d) * 0.1 * (2*rand.Float64() - 1))
	return d + jitter
}

func kubernautLockName(fp string) string { return kubernautLockPrefix + fp[:16] }

// acquire takes fp's lock for pod; false when another pod holds it.
func (k *KubernautCounter) acquire(ctx context.Context, fp, pod string) (bool, error) {
	key := types.NamespacedName{Namespace: k.Namespace, Name: kubernautLockName(fp)}
	lease := &coordinationv1.Lease{}
	err := k.Client.Get(ctx, key, lease)
	switch {
	case apierrors.IsNotFound(err):
		now := metav1.NowMicro()
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr.To(pod),
				LeaseDurationSeconds: ptr.To(int32(kubernautLockDuration / time.Second)),
				AcquireTime:          &now,
				RenewTime:            &now,
			},
		}
		err := k.Client.Create(ctx, lease)
		if apierrors.IsAlreadyExists(err) {
			return false, nil
		}
		return err == nil, err
	case err != nil:
		return false, err
	}
	if ptr.Deref(lease.Spec.HolderIdentity, "") == pod {
		return true, nil
	}
	if lease.Spec.RenewTime == nil || time.Now().Before(lease.Spec.RenewTime.Add(kubernautLockDuration)) {
		return false, nil
	}
	now := metav1.NowMicro()
	lease.Spec.HolderIdentity, lease.Spec.RenewTime = ptr.To(pod), &now
	err = k.Client.Update(ctx, lease)
	if apierrors.IsConflict(err) {
		return false, nil
	}
	return err == nil, err
}

// release deletes fp's lock if pod holds it.
func (k *KubernautCounter) release(ctx context.Context, fp, pod string) {
	lease := &coordinationv1.Lease{}
	if err := k.Client.Get(ctx, types.NamespacedName{Namespace: k.Namespace, Name: kubernautLockName(fp)}, lease); err != nil {
		return
	}
	if ptr.Deref(lease.Spec.HolderIdentity, "") != pod {
		return
	}
	_ = client.IgnoreNotFound(k.Client.Delete(ctx, lease))
}

// active lists fp's requests and returns an active one, or nil.
func (k *KubernautCounter) active(ctx context.Context, fp string) (*v1alpha1.RemediationRequest, error) {
	items, err := dedup.ListByFingerprint(ctx, k.Client, k.Namespace, fp)
	if err != nil {
		return nil, fmt.Errorf("%w: list by fingerprint: %w", pipeline.ErrUnavailable, err)
	}
	for i := range items {
		if dedup.IsActive(&items[i]) {
			return &items[i], nil
		}
	}
	return nil, nil
}

// count adds one to holder's count: Get, then a write of
// status.deduplication conditioned on the resourceVersion read, retried on
// conflict with client-go's default backoff, as kubernaut does.
func (k *KubernautCounter) count(ctx context.Context, fp string, holder *v1alpha1.RemediationRequest, outcome pipeline.Outcome) (pipeline.Result, error) {
	key := client.ObjectKeyFromObject(holder)
	n, err := countOne(ctx, k.Client, key, retry.DefaultBackoff)
	if err != nil {
		return pipeline.Result{}, err
	}
	return pipeline.Result{Outcome: outcome, Fingerprint: fp, RemediationRequest: key, OccurrenceCount: n, Batch: 1}, nil
}
