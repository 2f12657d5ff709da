package counter

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/lru"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/internal/coalesce"
)

// Errors Count returns, wrapped; callers branch on them with errors.Is. A
// signal that got an error was not counted.
var (
	// ErrUnavailable: the API server or the admission webhook did not
	// answer usefully; the sender should retry.
	ErrUnavailable = errors.New("the API server or the admission webhook is unavailable")
	// ErrDeadline: the signal's deadline passed before it was counted.
	ErrDeadline = errors.New("deadline passed before the signal was counted")
	// ErrRejected: the API server refused the RemediationRequest built from
	// the signal as invalid; resending the same signal cannot help.
	ErrRejected = errors.New("the API server rejected the RemediationRequest")
)

// Client is what a Counter writes with: RemediationRequests, their status,
// and a watch that settles a status write whose answer was lost. It must
// reach the API server directly, through a transport wrapped with
// CountSends (NewClient): without it, every Conflict to a count write is
// settled as if client-go had sent the write twice. It never writes claims.
type Client interface {
	client.Writer
	client.StatusClient
	Watch(ctx context.Context, list client.ObjectList, opts ...client.ListOption) (watch.Interface, error)
}

// DefaultTimeout is a signal's deadline, from its arrival, unless its
// context says otherwise: the gateway's --request-timeout default.
const DefaultTimeout = 15 * time.Second

// DefaultCallTimeout is Options.CallTimeout's default.
const DefaultCallTimeout = 5 * time.Second

// Options configure a Counter.
type Options struct {
	// DefaultTimeout is a signal's deadline when its context has none.
	// Defaults to DefaultTimeout.
	DefaultTimeout time.Duration
	// CallTimeout bounds each API call. The batch's deadline decides
	// whether a call starts, and is checked before every one; a started
	// call runs to its end (at most CallTimeout) so that its outcome is
	// known rather than guessed. Defaults to DefaultCallTimeout.
	CallTimeout time.Duration
	// RetryBackoff is the longest pause Batch.Backoff takes, and the
	// longest between repeated conflicts. Defaults to 100ms.
	RetryBackoff time.Duration
	// RememberSize is how many keys' last-counted requests are kept for
	// the read-free hot path. Defaults to 10000.
	RememberSize int
	// Metrics, when set, receive the counts.
	Metrics *Metrics
}

func (o *Options) setDefaults() {
	if o.DefaultTimeout <= 0 {
		o.DefaultTimeout = DefaultTimeout
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = 100 * time.Millisecond
	}
	if o.RememberSize <= 0 {
		o.RememberSize = 10000
	}
}

// settleCalls is how many API calls settling one ambiguous status write may
// take after the signal's deadline (settle): a read, a second send of the
// same conditioned write, and a watch from the resourceVersion it was
// conditioned on.
const settleCalls = 3

// Overrun is how long after its deadline a signal may be answered with
// calls of callTimeout (0 for the default): the call in flight when the
// deadline passes, and the calls that settle a status write whose answer
// was lost, which must be settled before the signal is answered either
// way. Servers that answer signals derive their write timeout from it.
func Overrun(callTimeout time.Duration) time.Duration {
	if callTimeout <= 0 {
		callTimeout = DefaultCallTimeout
	}
	return (1 + settleCalls) * callTimeout
}

// Counted is where one signal was counted.
type Counted struct {
	// RemediationRequest names the request the signal was counted on.
	RemediationRequest types.NamespacedName
	// OccurrenceCount is the request's count including this signal: the
	// signals of one write are numbered in their order of arrival.
	OccurrenceCount int64
	// Batch is how many signals the same API write counted.
	Batch int
	// Created is set for the first signal of a batch whose Find created
	// the request.
	Created bool
}

// Target is the request a Find names for a batch. The zero Target asks
// for Find again, after a pause Find took (Batch.Backoff, Batch.Jitter).
type Target struct {
	// RR is the request as read (its resourceVersion conditions the
	// write).
	RR *v1alpha1.RemediationRequest
	// Created says that Find created RR for the batch; Named, that a
	// decision already taken names it (the webhook's denial). Either way
	// the batch is counted on RR whatever happens to it since. Any other
	// request must still hold the key for the gateway (dedup.Suppresses)
	// when read again after a Conflict, or Find is asked again.
	Created, Named bool
}

// Find names the request a batch is counted on, reading and writing
// through the Batch, whose deadline bounds it.
type Find[T any] func(b *Batch[T]) (Target, error)

// Counter counts signals with payloads of type T on the requests its Find
// names. It is safe for concurrent use.
type Counter[T any] struct {
	*core
	find Find[T]
	// batches runs one batch of a key's signals at a time.
	batches *coalesce.Group[*pending[T]]
}

// core is what counting a batch needs whatever its payload: the API
// server, the options, and the requests last counted on.
type core struct {
	reader client.Reader
	client Client
	opts   Options

	// remembered maps a key to the *v1alpha1.RemediationRequest last
	// counted on, as returned by the API server (resourceVersion
	// included). Only the batch of the key being counted reads or writes
	// its entry.
	remembered *lru.Cache
}

// pending is a signal waiting for the batch it joined to be counted.
type pending[T any] struct {
	payload  T
	arrived  time.Time
	deadline time.Time
	done     chan outcome
}

type outcome struct {
	res Counted
	err error
}

// New returns a Counter that reads through reader — it must read the API
// server directly (the manager's APIReader), never a cache — writes and
// watches through c, and counts each batch on the request find names.
func New[T any](reader client.Reader, c Client, find Find[T], opts Options) *Counter[T] {
	opts.setDefaults()
	k := &Counter[T]{
		core: &core{reader: reader, client: c, opts: opts, remembered: lru.New(opts.RememberSize)},
		find: find,
	}
	k.batches = coalesce.New(k.countBatch)
	return k
}

// Count counts one signal, payload, under key and says where (step G2:
// it joins key's batch). ctx's deadline is the signal's, else arrived
// plus Options.DefaultTimeout; once queued, Count waits for the outcome
// even if ctx is cancelled, because the signal may already be part of a
// write in flight and its caller must learn whether it was counted. The
// wait is bounded by the deadline plus Overrun(CallTimeout).
func (k *Counter[T]) Count(ctx context.Context, key string, payload T, arrived time.Time) (Counted, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = arrived.Add(k.opts.DefaultTimeout)
	}
	w := &pending[T]{payload: payload, arrived: arrived, deadline: deadline, done: make(chan outcome, 1)}
	k.batches.Add(key, w)
	o := <-w.done
	return o.res, o.err
}

// countBatch counts one batch of key's signals with one write, and tells
// each signal where it was counted.
func (k *Counter[T]) countBatch(key string, batch []*pending[T]) {
	if m := k.opts.Metrics; m != nil {
		m.Coalesced.Add(float64(len(batch) - 1))
		m.Batches.Observe(float64(len(batch)))
	}
	c, err := k.countRecovered(key, batch)
	for i, w := range batch {
		if err != nil {
			w.done <- outcome{err: err}
			continue
		}
		w.done <- outcome{res: Counted{
			RemediationRequest: c.rr,
			OccurrenceCount:    c.base + int64(i) + 1,
			Batch:              len(batch),
			Created:            c.created && i == 0,
		}}
	}
}

// countRecovered counts batch, a panic turned into an error for the batch:
// a batch runs on a goroutine of the coalescer's, out of reach of any
// server's recovery, where a panic would end the process and fail every
// signal in flight on it, again at each resend of the signal that caused
// it. Like a crash, it leaves the batch's fate unknown if a write had been
// sent; unlike one, it costs only this key.
func (k *Counter[T]) countRecovered(key string, batch []*pending[T]) (c counted, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: internal error counting %s: %v", ErrUnavailable, key, r)
			if m := k.opts.Metrics; m != nil {
				m.Panics.Inc()
			}
		}
	}()
	return k.count(newBatch(k, key, batch))
}

// counted is where a batch landed: on rr, whose count was base before.
type counted struct {
	rr      types.NamespacedName
	base    int64
	created bool
}

// errLookAgain: the request the batch was to be counted on no longer holds
// its key; Find the one that does.
var errLookAgain = errors.New("the request no longer holds the key")

// count adds b's signals to the request last counted on for its key while
// that still holds it, else to the one Find names. It returns once the
// count has landed, or with an error when it did not.
func (k *Counter[T]) count(b *Batch[T]) (counted, error) {
	t := Target{RR: k.lastCounted(b.key, time.Now())}
	for {
		if t.RR == nil {
			var err error
			if t, err = k.find(b); err != nil {
				return counted{}, err
			}
			if t.RR == nil {
				continue
			}
		}
		c, err := k.land(b.run, t.RR, t.Created || t.Named)
		if !errors.Is(err, errLookAgain) {
			if err != nil {
				// Whatever failed, the next batch starts from a read: a
				// request remembered at a version that can no longer be
				// written or watched would fail every batch after this one.
				k.forget(b.key)
			}
			c.created = t.Created
			return c, err
		}
		k.forget(b.key)
		t = Target{}
	}
}

// land counts r's signals on rr (step G6): one status write conditioned on
// the resourceVersion rr was read at, and after a conflict, the same with
// rr read again. A request bound to the batch keeps it whatever happens to
// it meanwhile; any other must still hold the key when read again, or land
// returns errLookAgain.
func (c *core) land(r *run, rr *v1alpha1.RemediationRequest, bound bool) (counted, error) {
	for attempt := 0; ; attempt++ {
		w := newCountWrite(rr, r.n, r.arrived)
		stored, fresh, err := c.put(r, w)
		if err != nil {
			return counted{}, err
		}
		if stored != nil {
			if dedup.Suppresses(stored, time.Now()) {
				c.remember(r.key, stored)
			} else {
				c.forget(r.key)
			}
			return counted{rr: client.ObjectKeyFromObject(stored), base: w.base()}, nil
		}
		switch {
		case fresh == nil && bound:
			// Deleted since it was named: nothing to count on, and
			// nothing counted. The sender retries.
			return counted{}, fmt.Errorf("%w: %s/%s was deleted before it was counted on", ErrUnavailable, rr.Namespace, rr.Name)
		case fresh == nil:
			return counted{}, errLookAgain
		}
		if m := c.opts.Metrics; m != nil {
			m.Conflicts.Inc()
		}
		if r.read == nil {
			r.read = map[types.UID]*v1alpha1.RemediationRequest{}
		}
		r.read[fresh.UID] = fresh
		if !bound && !dedup.Suppresses(fresh, time.Now()) {
			return counted{}, errLookAgain
		}
		rr = fresh
		if attempt > 0 {
			time.Sleep(c.jitter(attempt))
		}
	}
}

// call runs one API call, with CallTimeout, unless r's deadline has passed
// (step G9): the deadline is checked before every call, so that a signal is
// answered at most one call after it.
func (c *core) call(r *run, f func(context.Context) error) error {
	if err := r.expired(); err != nil {
		return err
	}
	return c.callPastDeadline(f)
}

// callPastDeadline runs one API call with CallTimeout whatever the
// deadline: only settle does, to learn the fate of a write already sent.
func (c *core) callPastDeadline(f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.CallTimeout)
	defer cancel()
	return f(ctx)
}

// get reads a request through the reader, unless r's deadline has passed;
// nil when it does not exist.
func (c *core) get(r *run, key types.NamespacedName) (*v1alpha1.RemediationRequest, error) {
	if err := r.expired(); err != nil {
		return nil, err
	}
	rr, err := c.getPastDeadline(key)
	if err != nil {
		return nil, Classify("count", err)
	}
	return rr, nil
}

// lastCounted returns the request key was last counted on, if it still
// holds key as last read; the hot path writes to it without a read (step
// G7).
func (c *core) lastCounted(key string, now time.Time) *v1alpha1.RemediationRequest {
	v, ok := c.remembered.Get(key)
	if !ok {
		return nil
	}
	rr := v.(*v1alpha1.RemediationRequest)
	// A backoff window ends with the clock, not with a write: a request
	// remembered while suppressing may have stopped since.
	if !dedup.Suppresses(rr, now) {
		c.forget(key)
		return nil
	}
	return rr
}

func (c *core) remember(key string, rr *v1alpha1.RemediationRequest) {
	c.remembered.Add(key, rr)
}

func (c *core) forget(key string) { c.remembered.Remove(key) }

// Classify wraps the error of an API call made for a batch: the
// deadline's as it is; ErrRejected when the request itself is at fault;
// ErrUnavailable otherwise: a Forbidden is fixed by RBAC, a timeout or a
// webhook failure by time, and the sender should retry both.
func Classify(op string, err error) error {
	switch {
	case errors.Is(err, ErrDeadline):
		return err
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		return fmt.Errorf("%w: %s: %w", ErrRejected, op, err)
	default:
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
	}
}
