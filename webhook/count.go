package webhook

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/lru"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rrguard/rrguard/counter"
)

// Counter counts one signal on a named RemediationRequest and says where,
// with its count including the signal: the gateway's own counting
// (NewCounter).
type Counter interface {
	Count(ctx context.Context, key types.NamespacedName) (counter.Counted, error)
}

// The bounds of counting a denied create, which runs inside the admission
// request, after the decision (at most dedup.DefaultDecisionTimeout) and
// inside the registration's timeoutSeconds (5s): no call starts later than
// countTimeout after the decision, and each takes at most countCallTimeout.
// A write whose answer was lost is settled past that (at most three calls
// more, counter.Overrun), which only an API server failing at that moment
// costs.
const (
	countTimeout     = time.Second
	countCallTimeout = time.Second
)

// NewCounter returns the Counter a webhook counts denied creates with:
// reads through reader (the API server directly), status writes and the
// settling watch through c.
func NewCounter(reader client.Reader, c counter.Client) Counter {
	return holderCounter{counter.New(reader, c, findHolder, counter.Options{DefaultTimeout: countTimeout, CallTimeout: countCallTimeout})}
}

// holderCounter counts on the request a denial named: the gateway's own
// counting — the signals of one request batched into one status write
// conditioned on the resourceVersion read, a conflict read again and
// written again, a write whose answer was lost settled (G5–G8 of
// docs/design.md) — without the lookup and the create.
type holderCounter struct {
	c *counter.Counter[types.NamespacedName]
}

func (h holderCounter) Count(ctx context.Context, key types.NamespacedName) (counter.Counted, error) {
	return h.c.Count(ctx, key.String(), key, time.Now())
}

// findHolder names the holder the denial named, counted on whatever its
// phase since the decision: the decision named it.
func findHolder(b *counter.Batch[types.NamespacedName]) (counter.Target, error) {
	rr, err := b.Get(b.First())
	if err != nil {
		return counter.Target{}, err
	}
	if rr == nil {
		return counter.Target{}, fmt.Errorf("%w: %s does not exist", counter.ErrUnavailable, b.First())
	}
	return counter.Target{RR: rr, Named: true}, nil
}

var _ counter.Find[types.NamespacedName] = findHolder

// The outcomes of a denied create's count, on its audit line.
const (
	// countNone: nothing to count (not a Duplicate denial of a create by
	// a counted creator, or a dry run).
	countNone = "none"
	// countCounted: the signal was counted on the holder.
	countCounted = "counted"
	// countAlready: the API server asked again about a request this
	// replica has counted (or is counting): not counted again.
	countAlready = "alreadyCounted"
	// countFailed: not counted (the holder went, the API server failed).
	countFailed = "failed"
)

// askedSize is how many request UIDs a replica remembers the counts of.
const askedSize = 4096

// denialCounts counts each denied create of a counted creator once on the
// holder its denial names, however often the API server asks about its
// request UID: a second ask waits for the first's count and is answered
// from it.
type denialCounts struct {
	counter Counter
	mu      sync.Mutex
	asked   *lru.Cache // request UID → *askedCount
}

type askedCount struct {
	done chan struct{}
	res  counter.Counted
	err  error
}

func newDenialCounts(c Counter) *denialCounts {
	return &denialCounts{counter: c, asked: lru.New(askedSize)}
}

// count counts request uid's signal on holder, once per uid. again is set
// when uid had been asked about before.
func (d *denialCounts) count(ctx context.Context, uid types.UID, holder types.NamespacedName) (res counter.Counted, again bool, err error) {
	d.mu.Lock()
	if v, ok := d.asked.Get(uid); ok {
		d.mu.Unlock()
		a := v.(*askedCount)
		select {
		case <-a.done:
			return a.res, true, a.err
		case <-ctx.Done():
			return counter.Counted{}, true, ctx.Err()
		}
	}
	a := &askedCount{done: make(chan struct{})}
	d.asked.Add(uid, a)
	d.mu.Unlock()
	defer close(a.done)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), countTimeout)
	defer cancel()
	a.res, a.err = d.counter.Count(cctx, holder)
	return a.res, false, a.err
}
