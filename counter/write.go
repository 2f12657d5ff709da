package counter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// countWrite is one status write counting n signals on a request: a JSON
// merge patch of status.deduplication, and of nothing else, conditioned on
// the resourceVersion the request was read at. Other controllers own the
// rest of the status (kubernaut's orchestrator writes phase, conditions,
// routing and more), and the patch leaves all of it as stored, including
// fields rrguard's types do not know.
type countWrite struct {
	// on is the request as read: its resourceVersion conditions the write
	// and its count is the base.
	on *v1alpha1.RemediationRequest
	n  int64
	// firstSeen is firstSeenAt, written only where on has none.
	firstSeen time.Time
	// marker is lastSeenAt as written: the write's time to the millisecond,
	// its sub-millisecond digits random, so that this write can be told
	// from any other count written on the same resourceVersion.
	marker time.Time
}

func newCountWrite(on *v1alpha1.RemediationRequest, n int64, firstSeen time.Time) *countWrite {
	ms := time.Now().Truncate(time.Millisecond)
	return &countWrite{on: on, n: n, firstSeen: firstSeen, marker: ms.Add(time.Duration(1 + rand.Int64N(999_999)))}
}

// base is the count before the write.
func (w *countWrite) base() int64 { return int64(w.on.Status.GetDeduplication().OccurrenceCount) }

func (w *countWrite) key() types.NamespacedName { return client.ObjectKeyFromObject(w.on) }

// carriedBy reports whether rr's count is the one w wrote.
func (w *countWrite) carriedBy(rr *v1alpha1.RemediationRequest) bool {
	d := rr.Status.GetDeduplication()
	return rr.UID == w.on.UID && int64(d.OccurrenceCount) == w.base()+w.n &&
		d.LastSeenAt != nil && d.LastSeenAt.Time.Equal(w.marker)
}

func (w *countWrite) patch() client.Patch {
	var first time.Time
	if w.on.Status.GetDeduplication().FirstSeenAt == nil {
		first = w.firstSeen
	}
	return DeduplicationPatch(w.on.ResourceVersion, w.base()+w.n, first, w.marker)
}

// timeLayout writes every digit of a time down to the nanosecond, which
// metav1.Time would drop: a marker lives in them. Readers that parse
// RFC 3339, metav1.Time among them, read it as the same instant.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// DeduplicationPatch is the JSON merge patch that sets status.deduplication
// to count, lastSeen and, unless it is zero, firstSeen, and touches no other
// field, conditioned on resourceVersion: the API server refuses it with a
// Conflict if the request changed since it was read at that version.
func DeduplicationPatch(resourceVersion string, count int64, firstSeen, lastSeen time.Time) client.Patch {
	type deduplication struct {
		FirstSeenAt     string `json:"firstSeenAt,omitempty"`
		LastSeenAt      string `json:"lastSeenAt"`
		OccurrenceCount int64  `json:"occurrenceCount"`
	}
	var body struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
		Status struct {
			Deduplication deduplication `json:"deduplication"`
		} `json:"status"`
	}
	body.Metadata.ResourceVersion = resourceVersion
	d := &body.Status.Deduplication
	d.OccurrenceCount, d.LastSeenAt = count, lastSeen.UTC().Format(timeLayout)
	if !firstSeen.IsZero() {
		d.FirstSeenAt = firstSeen.UTC().Format(timeLayout)
	}
	b, err := json.Marshal(body)
	if err != nil {
		panic(fmt.Sprintf("marshal a deduplication patch: %v", err)) // strings and an integer
	}
	return client.RawPatch(types.MergePatchType, b)
}

// send sends w once, the status write of step G5, and returns the request
// as stored after it.
func (c *core) send(ctx context.Context, w *countWrite) (*v1alpha1.RemediationRequest, error) {
	out := &v1alpha1.RemediationRequest{ObjectMeta: metav1.ObjectMeta{Namespace: w.on.Namespace, Name: w.on.Name}}
	if err := c.client.Status().Patch(ctx, out, w.patch()); err != nil {
		return nil, err
	}
	return out, nil
}

// put writes w unless r's deadline has passed. It returns the request as
// stored after w when w landed, or, when it did not, the request as it is
// now: fresh, or nil when it is gone. A Conflict to a write sent once is a
// refusal: put reads the request again. An answer that never came, or a
// Conflict to a write client-go sent again (CountSends), leaves open
// whether w landed (a send may have landed and its answer been lost on the
// way back); put settles that before it returns, past the deadline if it
// must, because the signal's answer depends on it.
func (c *core) put(r *run, w *countWrite) (stored, fresh *v1alpha1.RemediationRequest, err error) {
	var sends *atomic.Int32
	err = c.call(r, func(ctx context.Context) error {
		ctx, sends = countingSends(ctx)
		var err error
		stored, err = c.send(ctx, w)
		return err
	})
	switch {
	case err == nil:
		return stored, nil, nil
	case errors.Is(err, ErrDeadline):
		return nil, nil, err
	case apierrors.IsNotFound(err):
		return nil, nil, nil
	case apierrors.IsConflict(err) && sends.Load() == 1:
		r.lastErr = err
		fresh, err := c.get(r, w.key())
		return nil, fresh, err
	case apierrors.IsConflict(err) || ambiguous(err):
		r.lastErr = err
		return c.settle(w, err)
	default:
		return nil, nil, Classify("count on "+w.key().String(), err)
	}
}

// ambiguous reports whether a write that failed with err may nevertheless
// have landed: every error but an answer in which the API server refused
// it. A transport error or a client timeout may come after the server
// stored the write; a 5xx may come while the write goes on (the API
// server's 504) or after it landed (etcd's timeout).
func ambiguous(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return true
	}
	code := status.Status().Code
	return code == 0 || code >= 500
}

// verdict is what a read of the request says about a count write.
type verdict int

const (
	// landed: the request carries the write's marker.
	landed verdict = iota
	// notLanded: the request moved on and its count did not change, so
	// no count, the write's or another's, landed since its version.
	notLanded
	// unchanged: the request is still at the write's version: the write
	// has not landed, but may still be on its way.
	unchanged
	// unclear: another count landed since the write's version, or the
	// request went; only the order of the writes tells.
	unclear
)

func (w *countWrite) verdict(cur *v1alpha1.RemediationRequest) verdict {
	switch {
	case cur == nil || cur.UID != w.on.UID:
		return unclear
	case w.carriedBy(cur):
		return landed
	case cur.ResourceVersion == w.on.ResourceVersion:
		return unchanged
	case cur.Status.GetDeduplication().OccurrenceCount == w.on.Status.GetDeduplication().OccurrenceCount:
		// Every count raises the count; a write that left it as it was
		// is another controller's.
		return notLanded
	default:
		return unclear
	}
}

// settle finds out whether w landed after its send failed with cause, in at
// most settleCalls API calls (step G8). At most one write conditioned on w's
// resourceVersion can land, and if one did, it is the first change stored
// after that version. So: read the request; if it still is at that
// version, send w again, which either lands (then it is the count) or
// proves the version gone; if another count came since, watch from w's
// version: the first change tells whose write came first.
func (c *core) settle(w *countWrite, cause error) (stored, fresh *v1alpha1.RemediationRequest, err error) {
	cur, err := c.getPastDeadline(w.key())
	if err != nil {
		return nil, nil, c.unsettled(w, cause, err)
	}
	switch w.verdict(cur) {
	case landed:
		c.settled("landed")
		return cur, nil, nil
	case notLanded:
		c.settled("not_landed")
		return nil, cur, nil
	case unchanged:
		again := c.callPastDeadline(func(ctx context.Context) error {
			var err error
			stored, err = c.send(ctx, w)
			return err
		})
		if again == nil {
			c.settled("landed")
			return stored, nil, nil
		}
		if !apierrors.IsConflict(again) && !apierrors.IsNotFound(again) && !ambiguous(again) {
			return nil, nil, c.unsettled(w, cause, again)
		}
		cur = nil // moved on since the read, or unknown
	}
	first, err := c.firstChangeAfter(w)
	if err != nil {
		return nil, nil, c.unsettled(w, cause, err)
	}
	if first != nil && w.carriedBy(first) {
		c.settled("landed")
		if cur != nil && cur.UID == first.UID {
			return cur, nil, nil
		}
		return first, nil, nil
	}
	c.settled("not_landed")
	if cur != nil && cur.UID == w.on.UID {
		return nil, cur, nil
	}
	if first != nil && first.UID == w.on.UID {
		return nil, first, nil
	}
	return nil, nil, nil
}

// getPastDeadline reads the request key; nil when it does not exist.
func (c *core) getPastDeadline(key types.NamespacedName) (*v1alpha1.RemediationRequest, error) {
	rr := &v1alpha1.RemediationRequest{}
	err := c.callPastDeadline(func(ctx context.Context) error { return c.reader.Get(ctx, key, rr) })
	switch {
	case err == nil:
		return rr, nil
	case apierrors.IsNotFound(err):
		return nil, nil
	default:
		return nil, fmt.Errorf("get remediationrequest %s: %w", key, err)
	}
}

// firstChangeAfter returns the request as the first change stored after
// w's resourceVersion left it, nil if that change was its deletion, read
// from a watch that starts at that version.
func (c *core) firstChangeAfter(w *countWrite) (*v1alpha1.RemediationRequest, error) {
	var first *v1alpha1.RemediationRequest
	err := c.callPastDeadline(func(ctx context.Context) error {
		wi, err := c.client.Watch(ctx, &v1alpha1.RemediationRequestList{}, &client.ListOptions{
			Namespace:     w.on.Namespace,
			FieldSelector: fields.OneTermEqualSelector("metadata.name", w.on.Name),
			Raw:           &metav1.ListOptions{ResourceVersion: w.on.ResourceVersion},
		})
		if err != nil {
			return err
		}
		defer wi.Stop()
		for {
			select {
			case <-ctx.Done():
				return fmt.Errorf("no change within the call timeout: %w", ctx.Err())
			case ev, ok := <-wi.ResultChan():
				if !ok {
					return errors.New("the watch ended before any change")
				}
				switch ev.Type {
				case watch.Modified:
					first, _ = ev.Object.(*v1alpha1.RemediationRequest)
					return nil
				case watch.Deleted, watch.Added:
					// Gone first (an Added comes only after a Deleted).
					return nil
				case watch.Error:
					return apierrors.FromObject(ev.Object)
				}
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("watch %s from resourceVersion %s: %w", w.key(), w.on.ResourceVersion, err)
	}
	return first, nil
}

// unsettled is the error of a count that may or may not have landed: the
// sender is told to retry, which counts the signal twice if it had. It
// takes the API server failing for the whole settling, right after a
// write whose answer it lost.
func (c *core) unsettled(w *countWrite, cause, err error) error {
	c.settled("unknown")
	return fmt.Errorf("%w: count of %d signals on %s: %v; whether it landed is unknown: %w", ErrUnavailable, w.n, w.key(), cause, err)
}

func (c *core) settled(verdict string) {
	if m := c.opts.Metrics; m != nil {
		m.Settled.WithLabelValues(verdict).Inc()
	}
}
