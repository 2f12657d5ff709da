package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/counter"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/gateway/scope"
	"github.com/rrguard/rrguard/gateway/signal"
	"github.com/rrguard/rrguard/gateway/target"
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
// fingerprinted gets an error wrapping signal.ErrInvalid. They are the
// counter's (counter.ErrUnavailable and its kin).
var (
	// ErrUnavailable: the API server or the admission webhook did not
	// answer usefully; the sender should retry.
	ErrUnavailable = counter.ErrUnavailable
	// ErrDeadline: the signal's deadline passed before it was counted.
	ErrDeadline = counter.ErrDeadline
	// ErrRejected: the API server refused the RemediationRequest built from
	// the signal as invalid; resending the same signal cannot help.
	ErrRejected = counter.ErrRejected
)

// Client is what the pipeline writes with: a counter.Client, which also
// creates the RemediationRequests (counter.NewClient makes one).
type Client = counter.Client

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
const DefaultTimeout = counter.DefaultTimeout

// DefaultCallTimeout is Options.CallTimeout's default.
const DefaultCallTimeout = counter.DefaultCallTimeout

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
	// fingerprint (internal/rrindex). Required with WebhookGuarded; unused without.
	Index client.Reader
}

// Pipeline counts signals on RemediationRequests. It is safe for concurrent
// use.
type Pipeline struct {
	client   Client
	resolver dedup.Resolver
	opts     Options
	// counter batches each fingerprint's signals and counts them on the
	// request find names.
	counter *counter.Counter[*signal.Signal]
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
	p := &Pipeline{client: c, resolver: dedup.Resolver{Reader: reader}, opts: opts}
	p.counter = counter.New(reader, c, p.find, counter.Options{
		DefaultTimeout: opts.DefaultTimeout,
		CallTimeout:    opts.CallTimeout,
		RetryBackoff:   opts.RetryBackoff,
		RememberSize:   opts.RememberSize,
		Metrics:        opts.Metrics,
	})
	return p, nil
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
// deadline plus counter.Overrun(CallTimeout).
func (p *Pipeline) Submit(ctx context.Context, sig *signal.Signal) (Result, error) {
	now := time.Now()
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
	c, err := p.counter.Count(ctx, fp, sig, now)
	if err != nil {
		return Result{Fingerprint: fp}, err
	}
	res := Result{
		Outcome:            OutcomeDuplicate,
		Fingerprint:        fp,
		RemediationRequest: c.RemediationRequest,
		OccurrenceCount:    c.OccurrenceCount,
		Batch:              c.Batch,
	}
	if c.Created {
		res.Outcome = OutcomeCreated
	}
	return res, nil
}

// readFailed wraps the error of a read Submit makes before counting:
// ErrDeadline once ctx is done, ErrUnavailable otherwise.
func readFailed(ctx context.Context, op string, err error) error {
	kind := ErrUnavailable
	if ctx.Err() != nil {
		kind = ErrDeadline
	}
	return fmt.Errorf("%w: %s: %w", kind, op, err)
}
