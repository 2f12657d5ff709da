package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/lru"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/gateway/signal"
	"github.com/rrguard/rrguard/internal/coalesce"
)

// Outcome says how a signal was counted.
type Outcome string

// The outcomes of a counted signal.
const (
	// OutcomeCreated: the signal's RemediationRequest was created for it.
	OutcomeCreated Outcome = "created"
	// OutcomeDuplicate: the signal was counted on an existing request.
	OutcomeDuplicate Outcome = "duplicate"
)

// Result is where a signal was counted.
type Result struct {
	Outcome     Outcome
	Fingerprint string
	// RemediationRequest names the request the signal was counted on.
	RemediationRequest types.NamespacedName
	// OccurrenceCount is the request's count including this signal: the
	// signals of one write are numbered in their order of arrival.
	OccurrenceCount int64
	// Batch is how many signals the same API write counted.
	Batch int
}

// Errors Submit returns, wrapped; callers branch on them with errors.Is. A
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

// Writer is what the pipeline writes with: RemediationRequests and their
// status. It never writes claims.
type Writer interface {
	client.Writer
	client.StatusClient
}

// Options configure a Pipeline.
type Options struct {
	// Namespace is where RemediationRequests are created and looked up.
	// Required.
	Namespace string
	// DefaultTimeout is a signal's deadline when its context has none.
	// Defaults to 15s.
	DefaultTimeout time.Duration
	// CallTimeout bounds each API call. The deadline of a signal decides
	// whether a call starts; a started call runs to its end (at most
	// CallTimeout) so that its outcome is known rather than guessed: a
	// write cancelled in flight may or may not have landed. Defaults to 5s.
	CallTimeout time.Duration
	// RetryBackoff is the longest pause before a new lookup after a
	// ClaimInFlight denial or repeated conflicts. Defaults to 100ms.
	RetryBackoff time.Duration
	// RememberSize is how many fingerprints' last-seen requests are kept
	// for the read-free hot path. Defaults to 10000.
	RememberSize int
	// Metrics, when set, receive the pipeline's counts.
	Metrics *Metrics
	// WebhookGuarded says that rrguard's admission webhook decides every
	// create in Namespace. A fingerprint without a claim is then created
	// straight away, without the field-selector List: the webhook Lists
	// before it admits anything unclaimed and names an unclaimed active
	// request in its Duplicate denial, which the pipeline counts on. That
	// saves one List, O(stored requests), per new incident. Without the
	// webhook it would create beside an unclaimed active request, so it is
	// off by default.
	WebhookGuarded bool
}

func (o *Options) setDefaults() {
	if o.DefaultTimeout <= 0 {
		o.DefaultTimeout = 15 * time.Second
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 5 * time.Second
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = 100 * time.Millisecond
	}
	if o.RememberSize <= 0 {
		o.RememberSize = 10000
	}
}

// Pipeline counts signals on RemediationRequests. It is safe for concurrent
// use.
type Pipeline struct {
	reader   client.Reader
	writer   Writer
	resolver dedup.Resolver
	opts     Options

	// flights runs one batch of a fingerprint's signals at a time.
	flights *coalesce.Group[*waiter]

	// remembered maps a fingerprint to the *v1alpha1.RemediationRequest
	// last seen active, as returned by the API server (resourceVersion
	// included). Only the fingerprint's flight reads or writes its entry.
	remembered *lru.Cache
}

type waiter struct {
	sig      *signal.Signal
	arrived  time.Time
	deadline time.Time
	done     chan outcome
}

type outcome struct {
	res Result
	err error
}

// New returns a Pipeline that reads through reader — it must read the API
// server directly (the manager's APIReader), never a cache — and writes
// through writer.
func New(reader client.Reader, writer Writer, opts Options) (*Pipeline, error) {
	if opts.Namespace == "" {
		return nil, errors.New("pipeline: a namespace is required")
	}
	opts.setDefaults()
	p := &Pipeline{
		reader:     reader,
		writer:     writer,
		resolver:   dedup.Resolver{Reader: reader},
		opts:       opts,
		remembered: lru.New(opts.RememberSize),
	}
	p.flights = coalesce.New(p.fly)
	return p, nil
}

// Namespace is where the pipeline's RemediationRequests live.
func (p *Pipeline) Namespace() string { return p.opts.Namespace }

// Submit counts sig, whose fingerprint is fp, and says where. ctx's deadline
// is the signal's; once Submit has queued the signal it waits for the
// outcome even if ctx is cancelled, because the signal may already be part
// of a write in flight and its caller must learn whether it was counted.
// The wait is bounded by the deadline plus one CallTimeout.
func (p *Pipeline) Submit(ctx context.Context, sig *signal.Signal, fp string) (Result, error) {
	if !dedup.ValidFingerprint(fp) {
		return Result{}, fmt.Errorf("%w: fingerprint %q is not 64 lower-case hex characters", ErrRejected, fp)
	}
	now := time.Now()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = now.Add(p.opts.DefaultTimeout)
	}
	w := &waiter{sig: sig, arrived: now, deadline: deadline, done: make(chan outcome, 1)}

	p.flights.Add(fp, w)
	o := <-w.done
	return o.res, o.err
}

// fly counts one batch of fp's signals with one write, and tells each signal
// where it was counted.
func (p *Pipeline) fly(fp string, batch []*waiter) {
	if m := p.opts.Metrics; m != nil {
		m.Coalesced.Add(float64(len(batch) - 1))
	}
	c, err := p.count(fp, batch)
	for i, w := range batch {
		if err != nil {
			w.done <- outcome{err: err}
			continue
		}
		res := Result{
			Outcome:            OutcomeDuplicate,
			Fingerprint:        fp,
			RemediationRequest: c.rr,
			OccurrenceCount:    c.base + int64(i) + 1,
			Batch:              len(batch),
		}
		if c.created && i == 0 {
			res.Outcome = OutcomeCreated
		}
		w.done <- outcome{res: res}
	}
}

// counted is where a batch landed: on rr, whose count was base before.
type counted struct {
	rr      types.NamespacedName
	base    int64
	created bool
}

// count adds batch to the active request for fp, creating one if there is
// none. It returns once the count has landed, or with an error when it
// did not.
func (p *Pipeline) count(fp string, batch []*waiter) (counted, error) {
	deadline := batch[0].deadline
	for _, w := range batch[1:] {
		if w.deadline.Before(deadline) {
			deadline = w.deadline
		}
	}
	n := int64(len(batch))
	first := batch[0]
	if m := p.opts.Metrics; m != nil {
		m.Batches.Observe(float64(n))
	}

	// rr is the request to count on, as last read; nil means look it up.
	rr := p.recall(fp)
	var lastErr error
	for attempt := 0; ; attempt++ {
		if !time.Now().Before(deadline) {
			if lastErr != nil {
				return counted{}, fmt.Errorf("%w: %w", ErrDeadline, lastErr)
			}
			return counted{}, ErrDeadline
		}
		if rr == nil {
			res, err := p.resolve(fp)
			if err != nil {
				return counted{}, err
			}
			if res.Active() {
				rr = res.Holder
			} else {
				c, retry, err := p.create(fp, first, batch, deadline)
				if err != nil {
					return counted{}, err
				}
				if retry.holder != nil {
					rr = retry.holder
					continue
				}
				if retry.again {
					lastErr = retry.reason
					p.sleep(retry.wait)
					continue
				}
				return c, nil
			}
		}

		base := rr.Status.Deduplication.OccurrenceCount
		updated, err := p.add(rr, n, first.arrived)
		switch {
		case err == nil:
			p.remember(fp, updated)
			return counted{rr: client.ObjectKeyFromObject(updated), base: base}, nil
		case apierrors.IsConflict(err):
			if m := p.opts.Metrics; m != nil {
				m.Conflicts.Inc()
			}
			lastErr = err
			// Changed since read: look again, starting with the
			// request itself, which still holds the fingerprint
			// for as long as it is active.
			fresh, err := p.get(client.ObjectKeyFromObject(rr))
			if err != nil {
				return counted{}, err
			}
			if fresh != nil && dedup.IsActive(fresh) {
				rr = fresh
			} else {
				p.forget(fp)
				rr = nil
			}
			if attempt > 0 {
				p.sleep(p.jitter(attempt))
			}
		case apierrors.IsNotFound(err):
			lastErr = err
			p.forget(fp)
			rr = nil
		default:
			p.forget(fp)
			return counted{}, classify("update status of "+rr.Namespace+"/"+rr.Name, err)
		}
	}
}

// retry says why create did not count a batch and what to do next.
type retry struct {
	// holder is the active request the webhook named; count on it.
	holder *v1alpha1.RemediationRequest
	// again asks for a new lookup after wait, because of reason.
	again  bool
	wait   time.Duration
	reason error
}

// create creates a request for the batch and counts the batch on it. A
// webhook denial comes back as a retry: naming an active holder to count on
// instead, or asking for a pause and a new lookup.
func (p *Pipeline) create(fp string, first *waiter, batch []*waiter, deadline time.Time) (counted, retry, error) {
	rr := signal.NewRemediationRequest(p.opts.Namespace, fp, first.sig, first.arrived)
	if err := p.call(func(ctx context.Context) error { return p.writer.Create(ctx, rr) }); err != nil {
		denied := err
		d, ok := dedup.DenialFromError(denied)
		if !ok {
			return counted{}, retry{}, classify("create remediationrequest", denied)
		}
		switch d.Reason {
		case dedup.ReasonDuplicate:
			holder, err := p.get(types.NamespacedName{Namespace: p.opts.Namespace, Name: d.Holder})
			if err != nil {
				return counted{}, retry{}, err
			}
			if holder != nil && dedup.IsActive(holder) {
				return counted{}, retry{holder: holder}, nil
			}
			// The holder ended or went between the webhook's
			// decision and this read: look again.
			return counted{}, retry{again: true, wait: p.jitter(1), reason: denied}, nil
		default:
			wait := d.RetryAfter
			if wait <= 0 || wait > p.opts.RetryBackoff {
				wait = p.opts.RetryBackoff
			}
			return counted{}, retry{again: true, wait: wait, reason: denied}, nil
		}
	}

	// The request exists and holds the fingerprint: the batch is its
	// first count. Others may count on it before this update lands, and
	// it may even end meanwhile; the batch stays with the request created
	// for it either way.
	n := int64(len(batch))
	cur := rr
	for {
		base := cur.Status.Deduplication.OccurrenceCount
		updated, err := p.add(cur, n, first.arrived)
		switch {
		case err == nil:
			if dedup.IsActive(updated) {
				p.remember(fp, updated)
			}
			return counted{rr: client.ObjectKeyFromObject(updated), base: base, created: true}, retry{}, nil
		case apierrors.IsConflict(err):
			if m := p.opts.Metrics; m != nil {
				m.Conflicts.Inc()
			}
			if !time.Now().Before(deadline) {
				return counted{}, retry{}, fmt.Errorf("%w: count on created %s/%s: %w", ErrDeadline, rr.Namespace, rr.Name, err)
			}
			fresh, err := p.get(client.ObjectKeyFromObject(rr))
			if err != nil {
				return counted{}, retry{}, err
			}
			if fresh == nil {
				// Deleted right after its creation: nothing to count
				// on, and nothing counted. The sender retries.
				return counted{}, retry{}, fmt.Errorf("%w: created %s/%s was deleted before its first count", ErrUnavailable, rr.Namespace, rr.Name)
			}
			cur = fresh
		default:
			return counted{}, retry{}, classify("set deduplication status of created "+rr.Namespace+"/"+rr.Name, err)
		}
	}
}

// add counts n signals on rr with a status update conditioned on rr's
// resourceVersion, and returns the request as stored after it.
func (p *Pipeline) add(rr *v1alpha1.RemediationRequest, n int64, firstArrived time.Time) (*v1alpha1.RemediationRequest, error) {
	u := rr.DeepCopy()
	d := &u.Status.Deduplication
	now := metav1.Now()
	if d.FirstSeenAt == nil {
		t := metav1.NewTime(firstArrived)
		d.FirstSeenAt = &t
	}
	d.LastSeenAt = &now
	d.OccurrenceCount += n
	err := p.call(func(ctx context.Context) error { return p.writer.Status().Update(ctx, u) })
	if err != nil {
		return nil, err
	}
	return u, nil
}

// resolve looks fp up with the shared dedup core: the claim, and the List
// where there is none unless the webhook guards (Options.WebhookGuarded).
func (p *Pipeline) resolve(fp string) (dedup.Resolution, error) {
	var res dedup.Resolution
	err := p.call(func(ctx context.Context) error {
		var err error
		if p.opts.WebhookGuarded {
			res, _, err = p.resolver.ResolveClaim(ctx, p.opts.Namespace, fp)
			return err
		}
		res, err = p.resolver.Resolve(ctx, p.opts.Namespace, fp, "")
		return err
	})
	if err != nil {
		return dedup.Resolution{}, classify("look up fingerprint "+fp, err)
	}
	return res, nil
}

// get reads a request through the reader; nil when it does not exist.
func (p *Pipeline) get(key types.NamespacedName) (*v1alpha1.RemediationRequest, error) {
	rr := &v1alpha1.RemediationRequest{}
	err := p.call(func(ctx context.Context) error { return p.reader.Get(ctx, key, rr) })
	switch {
	case err == nil:
		return rr, nil
	case apierrors.IsNotFound(err):
		return nil, nil
	default:
		return nil, classify("get remediationrequest "+key.String(), err)
	}
}

func (p *Pipeline) call(f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.CallTimeout)
	defer cancel()
	return f(ctx)
}

func (p *Pipeline) recall(fp string) *v1alpha1.RemediationRequest {
	v, ok := p.remembered.Get(fp)
	if !ok {
		return nil
	}
	return v.(*v1alpha1.RemediationRequest)
}

func (p *Pipeline) remember(fp string, rr *v1alpha1.RemediationRequest) {
	p.remembered.Add(fp, rr)
}

func (p *Pipeline) forget(fp string) { p.remembered.Remove(fp) }

// jitter returns a random pause that grows with attempt, at most
// RetryBackoff, so that gateways contending for one request spread out.
func (p *Pipeline) jitter(attempt int) time.Duration {
	limit := time.Duration(attempt) * 5 * time.Millisecond
	if limit > p.opts.RetryBackoff {
		limit = p.opts.RetryBackoff
	}
	return time.Duration(rand.Int64N(int64(limit) + 1))
}

func (p *Pipeline) sleep(d time.Duration) { time.Sleep(d) }

// classify wraps an API error as ErrRejected when the request itself is at
// fault and ErrUnavailable otherwise: a Forbidden is fixed by RBAC, a
// timeout or a webhook failure by time, and the sender should retry both.
func classify(op string, err error) error {
	if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) {
		return fmt.Errorf("%w: %s: %w", ErrRejected, op, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}
