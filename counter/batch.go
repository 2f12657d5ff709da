package counter

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// run is one batch on its way to being counted, whatever its payload.
type run struct {
	key string
	n   int64
	// arrived is the first signal's arrival: firstSeenAt where the
	// request has none.
	arrived time.Time
	// deadline is the earliest of the batch's deadlines: no API call
	// starts after it.
	deadline time.Time
	// lastErr is why the latest attempt did not count the batch, for the
	// deadline's error.
	lastErr error
	// read holds the requests this run read from the API server after a
	// conflict: newer than what a cache may still hold of them.
	read map[types.UID]*v1alpha1.RemediationRequest
}

// expired returns ErrDeadline, wrapped with why the batch is not counted
// yet, once the deadline has passed.
func (r *run) expired() error {
	if time.Now().Before(r.deadline) {
		return nil
	}
	if r.lastErr != nil {
		return fmt.Errorf("%w: %w", ErrDeadline, r.lastErr)
	}
	return ErrDeadline
}

// Batch is the signals of one key counted by one write, as a Find sees
// them: the first signal's payload, and the calls Find may make, each
// checked against the batch's deadline.
type Batch[T any] struct {
	*run
	c     *core
	first T
}

func newBatch[T any](k *Counter[T], key string, batch []*pending[T]) *Batch[T] {
	r := &run{key: key, n: int64(len(batch)), arrived: batch[0].arrived, deadline: batch[0].deadline}
	for _, w := range batch[1:] {
		if w.deadline.Before(r.deadline) {
			r.deadline = w.deadline
		}
	}
	return &Batch[T]{run: r, c: k.core, first: batch[0].payload}
}

// Key is the key the batch's signals were counted under.
func (b *Batch[T]) Key() string { return b.key }

// First is the payload of the batch's first signal.
func (b *Batch[T]) First() T { return b.first }

// Arrived is when the batch's first signal arrived.
func (b *Batch[T]) Arrived() time.Time { return b.arrived }

// Deadline is the earliest of the batch's signals' deadlines.
func (b *Batch[T]) Deadline() time.Time { return b.deadline }

// Call runs one API call with Options.CallTimeout, unless the batch's
// deadline has passed: then it returns ErrDeadline (step G9).
func (b *Batch[T]) Call(f func(context.Context) error) error { return b.c.call(b.run, f) }

// Get reads the request key from the API server, unless the batch's
// deadline has passed; nil when it does not exist. Errors are Classify's.
func (b *Batch[T]) Get(key types.NamespacedName) (*v1alpha1.RemediationRequest, error) {
	return b.c.get(b.run, key)
}

// Retrying records why the latest attempt did not count the batch: the
// deadline's error, if it comes first, says so.
func (b *Batch[T]) Retrying(err error) { b.lastErr = err }

// Latest returns what this batch last read of rr after a Conflict, where
// that is newer than rr as a cache holds it; rr otherwise.
func (b *Batch[T]) Latest(rr *v1alpha1.RemediationRequest) *v1alpha1.RemediationRequest {
	if newer, ok := b.read[rr.UID]; ok {
		return newer
	}
	return rr
}

// Backoff pauses before Find looks again after a ClaimInFlight denial:
// retryAfter, at most Options.RetryBackoff, which it is when unset.
func (b *Batch[T]) Backoff(retryAfter time.Duration) {
	if retryAfter <= 0 || retryAfter > b.c.opts.RetryBackoff {
		retryAfter = b.c.opts.RetryBackoff
	}
	time.Sleep(retryAfter)
}

// Jitter pauses briefly and at random, so that replicas contending for
// one request spread out.
func (b *Batch[T]) Jitter() { time.Sleep(b.c.jitter(1)) }

// jitter returns a random pause that grows with attempt, at most
// RetryBackoff.
func (c *core) jitter(attempt int) time.Duration {
	limit := time.Duration(attempt) * 5 * time.Millisecond
	if limit > c.opts.RetryBackoff {
		limit = c.opts.RetryBackoff
	}
	return time.Duration(rand.Int64N(int64(limit) + 1))
}
