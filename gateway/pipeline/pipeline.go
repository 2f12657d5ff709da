package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/lru"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/gateway/scope"
	"github.com/rrguard/rrguard/gateway/signal"
	"github.com/rrguard/rrguard/gateway/target"
	"github.com/rrguard/rrguard/internal/coalesce"
)

// Result is where a signal was counted, or why it was not.
type Result struct {
	// Outcome is OutcomeCreated or OutcomeDuplicate; OutcomeIgnored for a
	// signal whose object is gone without a trace, or whose target is out
	// of scope (Options.Scope).
	Outcome Outcome
	// Reason says why an OutcomeIgnored signal was not counted: its object
	// is gone and nothing that remains stands for it, or its target is out
	// of kubernaut's management scope.
	Reason string
	// Fingerprint is the signal's, of its resolved target. Submit sets it
	// on an error too, once the signal could be fingerprinted.
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
// signal that got an error was not counted. A signal whose target cannot be
// fingerprinted gets an error wrapping signal.ErrInvalid.
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

// Client is what the pipeline writes with: RemediationRequests, their
// status, and a watch that settles a status write whose answer was lost.
// It must reach the API server directly, through a transport wrapped with
// CountSends: without it, every Conflict to a count write is settled as if
// client-go had sent the write twice. It never writes claims.
type Client interface {
	client.Writer
	client.StatusClient
	Watch(ctx context.Context, list client.ObjectList, opts ...client.ListOption) (watch.Interface, error)
}

// Targets names the object a signal is about before it is fingerprinted;
// *target.Resolver reads the API server for it.
type Targets interface {
	Resolve(ctx context.Context, sig *signal.Signal) (target.Resolution, error)
}

var _ Targets = (*target.Resolver)(nil)

// Scope decides whether a resolved target is in kubernaut's management
// scope; *scope.Checker reads kubernaut's kubernaut.ai/managed label.
type Scope interface {
	Check(ctx context.Context, clusterID string, target v1alpha1.ResourceIdentifier) (scope.Verdict, error)
}

var _ Scope = scope.Checker{}

// DefaultTimeout is a signal's deadline, from its arrival, unless its
// caller says otherwise: the gateway's --request-timeout default.
const DefaultTimeout = 15 * time.Second

// DefaultCallTimeout is Options.CallTimeout's default.
const DefaultCallTimeout = 5 * time.Second

// Options configure a Pipeline.
type Options struct {
	// Namespace is where RemediationRequests are created and looked up.
	// Required.
	Namespace string
	// DefaultTimeout is a signal's deadline when its context has none.
	// Defaults to DefaultTimeout.
	DefaultTimeout time.Duration
	// CallTimeout bounds each API call. The signal's deadline decides
	// whether a call starts, and is checked before every one; a started
	// call runs to its end (at most CallTimeout) so that its outcome is
	// known rather than guessed. Defaults to DefaultCallTimeout.
	CallTimeout time.Duration
	// RetryBackoff is the longest pause before a new lookup after a
	// ClaimInFlight denial or repeated conflicts. Defaults to 100ms.
	RetryBackoff time.Duration
	// RememberSize is how many fingerprints' last-seen requests are kept
	// for the read-free hot path. Defaults to 10000.
	RememberSize int
	// Metrics, when set, receive the pipeline's counts.
	Metrics *Metrics
	// Targets, when set, names each signal's object before it is
	// fingerprinted (an alert's from its labels, a Pod's controller), so
	// that the signals about one object are one incident. Without it a
	// signal's Target must already be set.
	Targets Targets
	// Scope, when set, is asked about each signal's resolved target; a
	// signal whose target is out of scope is answered OutcomeIgnored with
	// the reason, before anything is read or written for it, as
	// kubernaut's gateway answers it before its deduplication.
	Scope Scope
	// WebhookGuarded says that rrguard's admission webhook decides every
	// create in Namespace. A fingerprint this replica does not know is then
	// looked up in Index, without an API request: the webhook names an
	// active holder the index missed in its Duplicate denial, which the
	// pipeline counts on, and a holder the index did find is counted on
	// with a write conditioned on the resourceVersion the index had, which
	// fails if the index was behind. Without the webhook a lagging index
	// would let the pipeline create beside an active request, so it is off
	// by default: the pipeline then reads the claim and, where there is
	// none, Lists, all on the API server.
	WebhookGuarded bool
	// Index is the informer-backed index of Namespace's requests by
	// fingerprint (NewIndex). Required with WebhookGuarded; unused without.
	Index client.Reader
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

// Pipeline counts signals on RemediationRequests. It is safe for concurrent
// use.
type Pipeline struct {
	reader   client.Reader
	client   Client
	resolver dedup.Resolver
	opts     Options

	// batches runs one batch of a fingerprint's signals at a time.
	batches *coalesce.Group[*pendingSignal]
	// countRun counts one batch: count, or a HolderCounter's countHeld.
	countRun func(*run) (counted, error)

	// remembered maps a fingerprint to the *v1alpha1.RemediationRequest
	// last counted on, as returned by the API server (resourceVersion
	// included). Only the batch of the fingerprint being counted reads or
	// writes its entry.
	remembered *lru.Cache
}

// pendingSignal is a submitted signal waiting for the batch it joined to
// be counted.
type pendingSignal struct {
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
// and watches through c.
func New(reader client.Reader, c Client, opts Options) (*Pipeline, error) {
	if opts.Namespace == "" {
		return nil, errors.New("pipeline: a namespace is required")
	}
	if opts.WebhookGuarded && opts.Index == nil {
		return nil, errors.New("pipeline: WebhookGuarded needs an Index")
	}
	p := newPipelineState(reader, c, opts)
	p.countRun = p.count
	return p, nil
}

// newPipelineState is the state every Pipeline shares, a gateway's and a
// HolderCounter's; the caller sets countRun.
func newPipelineState(reader client.Reader, c Client, opts Options) *Pipeline {
	opts.setDefaults()
	p := &Pipeline{
		reader:     reader,
		client:     c,
		resolver:   dedup.Resolver{Reader: reader},
		opts:       opts,
		remembered: lru.New(opts.RememberSize),
	}
	p.batches = coalesce.New(p.countBatch)
	return p
}

// Submit names sig's object (Options.Targets), fingerprints it, checks its
// scope (Options.Scope), counts it, and says where (step G1: what a signal
// could make the cluster refuse is refused before it joins a batch; step
// G2: it joins its fingerprint's batch); a signal whose object is gone
// without a trace, or out of scope, is OutcomeIgnored with the reason.
// ctx's deadline is the signal's; once Submit has
// queued the signal it waits for the outcome even if ctx is cancelled,
// because the signal may already be part of a write in flight and its
// caller must learn whether it was counted. The wait is bounded by the
// deadline plus Overrun(CallTimeout).
func (p *Pipeline) Submit(ctx context.Context, sig *signal.Signal) (Result, error) {
	now := time.Now()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = now.Add(p.opts.DefaultTimeout)
	}
	if p.opts.Targets != nil {
		res, err := p.opts.Targets.Resolve(ctx, sig)
		switch {
		case errors.Is(err, signal.ErrInvalid):
			return Result{}, err
		case err != nil:
			return Result{}, readFailed(ctx, "resolve target", err)
		case res.Ignored != "":
			return Result{Outcome: OutcomeIgnored, Reason: res.Ignored}, nil
		}
		sig.Target = res.Target
	}
	fp, err := sig.Fingerprint()
	if err != nil {
		return Result{}, err
	}
	if p.opts.Scope != nil {
		v, err := p.opts.Scope.Check(ctx, sig.ClusterID, sig.Target)
		if err != nil {
			return Result{Fingerprint: fp}, readFailed(ctx, "check scope", err)
		}
		if !v.Managed {
			return Result{Outcome: OutcomeIgnored, Fingerprint: fp, Reason: "not in kubernaut's management scope: " + v.Reason}, nil
		}
	}
	res, err := p.await(fp, &pendingSignal{sig: sig, arrived: now, deadline: deadline, done: make(chan outcome, 1)})
	res.Fingerprint = fp
	return res, err
}

// await adds w to key's next batch and waits for the batch's outcome.
func (p *Pipeline) await(key string, w *pendingSignal) (Result, error) {
	p.batches.Add(key, w)
	o := <-w.done
	return o.res, o.err
}

// countBatch counts one batch of fp's signals with one write, and tells each signal
// where it was counted.
func (p *Pipeline) countBatch(fp string, batch []*pendingSignal) {
	if m := p.opts.Metrics; m != nil {
		m.Coalesced.Add(float64(len(batch) - 1))
	}
	c, err := p.countRecovered(fp, batch)
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

// countRecovered counts batch, a panic turned into an error for the batch:
// a batch runs on a goroutine of the coalescer's, out of reach of the HTTP
// server's recovery, where a panic would end the gateway and fail every
// signal in flight on it, again at each resend of the signal that caused
// it. Like a crash, it leaves the batch's fate unknown if a write had been
// sent; unlike one, it costs only this fingerprint.
func (p *Pipeline) countRecovered(fp string, batch []*pendingSignal) (c counted, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: internal error counting fingerprint %s: %v", ErrUnavailable, fp, r)
			if m := p.opts.Metrics; m != nil {
				m.Panics.Inc()
			}
		}
	}()
	return p.countRun(newRun(fp, batch))
}

// call runs one API call, with CallTimeout, unless r's deadline has passed
// (step G9):
// the deadline is checked before every call, so that a signal is answered
// at most one call after it.
func (p *Pipeline) call(r *run, f func(context.Context) error) error {
	if err := r.expired(); err != nil {
		return err
	}
	return p.callPastDeadline(f)
}

// callPastDeadline runs one API call with CallTimeout whatever the
// deadline: only settle does, to learn the fate of a write already sent.
func (p *Pipeline) callPastDeadline(f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.CallTimeout)
	defer cancel()
	return f(ctx)
}

// get reads a request through the reader, unless r's deadline has passed;
// nil when it does not exist.
func (p *Pipeline) get(r *run, key types.NamespacedName) (*v1alpha1.RemediationRequest, error) {
	rr := &v1alpha1.RemediationRequest{}
	err := p.call(r, func(ctx context.Context) error { return p.reader.Get(ctx, key, rr) })
	switch {
	case err == nil:
		return rr, nil
	case apierrors.IsNotFound(err):
		return nil, nil
	case errors.Is(err, ErrDeadline):
		return nil, err
	default:
		return nil, classify("get remediationrequest "+key.String(), err)
	}
}

// lastCounted returns the request fp was last counted on, if it still holds fp
// as last read; the hot path writes to it without a read (step G7).
func (p *Pipeline) lastCounted(fp string, now time.Time) *v1alpha1.RemediationRequest {
	v, ok := p.remembered.Get(fp)
	if !ok {
		return nil
	}
	rr := v.(*v1alpha1.RemediationRequest)
	// A backoff window ends with the clock, not with a write: a request
	// remembered while suppressing may have stopped since.
	if !dedup.Suppresses(rr, now) {
		p.forget(fp)
		return nil
	}
	return rr
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

// readFailed wraps the error of a read Submit makes before counting:
// ErrDeadline once ctx is done, ErrUnavailable otherwise.
func readFailed(ctx context.Context, op string, err error) error {
	kind := ErrUnavailable
	if ctx.Err() != nil {
		kind = ErrDeadline
	}
	return fmt.Errorf("%w: %s: %w", kind, op, err)
}

// classify wraps an API error as ErrRejected when the request itself is at
// fault and ErrUnavailable otherwise: a Forbidden is fixed by RBAC, a
// timeout or a webhook failure by time, and the sender should retry both.
func classify(op string, err error) error {
	if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) {
		return fmt.Errorf("%w: %s: %w", ErrRejected, op, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}
