package dedup

import (
	"context"
	"errors"
	"sync"
	"time"

	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The Guard's defaults, stated here once.
const (
	// DefaultClaimGrace is how long a claim whose holder is not stored is
	// presumed in flight: kube-apiserver's default --request-timeout. A
	// create or update is admitted and stored under its request's
	// context, whose deadline is at most --request-timeout after the
	// request arrived (and at most 34 s after the handler started), so an
	// admitted write that is not stored when that has passed never will
	// be. A claim is written after its holder's request arrived and this
	// replica's observation starts after the write, so the grace counts
	// from a later moment than the deadline does. Every validating
	// webhook (at most 30 s each, called in parallel) runs inside that
	// deadline. See docs/design.md, section 7.
	DefaultClaimGrace = 60 * time.Second
	// DefaultDecisionTimeout bounds one decision, the wait for a holder
	// included, well inside the webhook's own timeout (WebhookTimeout in
	// package webhook, 5 s).
	DefaultDecisionTimeout = 3 * time.Second
	// DefaultHolderWait bounds how long a decision that meets a claim in
	// flight waits for its holder to be stored (step C9).
	DefaultHolderWait = 2 * time.Second
	// defaultMaxAttempts bounds the compare-and-swap retries of a decision.
	defaultMaxAttempts = 10
)

// ErrTooManyConflicts is returned when the claim kept changing under the
// Guard for MaxAttempts rounds.
var ErrTooManyConflicts = errors.New("claim kept changing; too many compare-and-swap conflicts")

// Guard runs the claim protocol of docs/design.md for admission: at most
// one active RemediationRequest per fingerprint and namespace, whoever
// creates it. Reader must read the API server directly; Writer writes claim
// Leases. One Guard is one replica: it keeps that replica's observations of
// claims, so it must be shared by all of the replica's decisions.
type Guard struct {
	Reader client.Reader
	Writer client.Writer
	// Index, when set, answers the look for requests stored out of the
	// webhook's reach (steps C2 and C4) from memory: an informer-backed
	// cache of RemediationRequests indexed by v1alpha1.FingerprintField
	// (internal/rrindex), synced before the first decision. Unset, they
	// List kube-apiserver's watch cache, which filters every request of
	// the namespace. Either way what it shows counts only once a direct Get
	// through Reader confirms it (docs/design.md, section 5).
	Index client.Reader

	// Grace is how long a claim whose holder is not stored (or whose
	// admitted re-activation is not stored) is presumed in flight before
	// it may be taken over, as this replica observes it. It must be at
	// least the longest an admitted write can take to be stored.
	// Defaults to DefaultClaimGrace.
	Grace time.Duration
	// Timeout bounds one decision. Defaults to DefaultDecisionTimeout.
	Timeout time.Duration
	// HolderWait bounds the wait for a holder in flight (step C9).
	// Defaults to DefaultHolderWait; negative: no wait.
	HolderWait time.Duration
	// MaxAttempts bounds the compare-and-swap retries. Defaults to
	// defaultMaxAttempts.
	MaxAttempts int
	// Clock stamps the claims written (acquireTime and renewTime, for
	// people: no decision reads them) and times this replica's
	// observations. Defaults to the real clock.
	Clock clock.PassiveClock
	// Age judges how old a claim is. Defaults to this Guard's own
	// Observations (the age this replica observed).
	Age AgeJudge
	// ObservedClaims bounds the claims this replica remembers beyond those
	// it touched within the grace, which it always remembers (see
	// Observations). Defaults to 4,096.
	ObservedClaims int

	// background runs what a decision leaves behind it (a release's
	// retries); nil: a goroutine of its own. The model test schedules it
	// like any other caller of the API server.
	background func(func())

	once sync.Once
	seen *Observations
	age  AgeJudge
}

// GuardOptions configure NewGuard's Guard: each is the Guard's field of the
// same name, and the zero value of each means that field's default.
type GuardOptions struct {
	Index       client.Reader
	Grace       time.Duration
	Timeout     time.Duration
	HolderWait  time.Duration
	MaxAttempts int
}

// NewGuard returns a Guard that reads through reader, which must read the
// API server directly, and writes claim Leases through writer. A test may
// set the Guard's Clock or Age before its first decision.
func NewGuard(reader client.Reader, writer client.Writer, o GuardOptions) *Guard {
	return &Guard{
		Reader: reader, Writer: writer, Index: o.Index,
		Grace: o.Grace, Timeout: o.Timeout, HolderWait: o.HolderWait, MaxAttempts: o.MaxAttempts,
	}
}

func (g *Guard) init() {
	g.once.Do(func() {
		g.seen = NewObservations(g.ObservedClaims, g.grace(), g.clock())
		g.age = g.Age
		if g.age == nil {
			g.age = g.seen
		}
	})
}

// resolver is the Resolver every step of g's decisions reads through: its
// Reader, and its Index for steps C2 and C4.
func (g *Guard) resolver() Resolver { return Resolver{Reader: g.Reader, Index: g.Index} }

func (g *Guard) grace() time.Duration { return orDefault(g.Grace, DefaultClaimGrace) }

func (g *Guard) timeout() time.Duration { return orDefault(g.Timeout, DefaultDecisionTimeout) }

func (g *Guard) holderWait() time.Duration {
	if g.HolderWait < 0 {
		return 0
	}
	return orDefault(g.HolderWait, DefaultHolderWait)
}

func (g *Guard) clock() clock.PassiveClock {
	if g.Clock != nil {
		return g.Clock
	}
	return clock.RealClock{}
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Admit decides whether c may hold its fingerprint, taking the claim when it
// may. A dry run makes the same decision without writing anything. The
// decision is bounded in time and in compare-and-swap rounds (step C11).
func (g *Guard) Admit(ctx context.Context, c Candidate, dryRun bool) (Verdict, error) {
	g.init()
	ctx, cancel := context.WithTimeout(ctx, g.timeout())
	defer cancel()
	d := &decision{g: g, c: c, dryRun: dryRun, self: c.holderRef(), allowed: ReasonUnique}
	if c.Reactivation {
		d.allowed = ReasonReactivated
	}
	v, conflicts, err := casRounds(g.maxAttempts(), func() (Verdict, bool, error) { return d.round(ctx) })
	v.Conflicts = conflicts
	return v, err
}

func (g *Guard) maxAttempts() int {
	if g.MaxAttempts > 0 {
		return g.MaxAttempts
	}
	return defaultMaxAttempts
}

// casRounds runs round until it no longer asks to start again (a lost
// compare-and-swap), at most attempts times, and says how many rounds were
// lost. On an error, or when every round was lost, the result is round's
// zero value.
func casRounds[T any](attempts int, round func() (T, bool, error)) (v T, conflicts int, err error) {
	var zero T
	for range attempts {
		v, again, err := round()
		if err != nil {
			return zero, conflicts, err
		}
		if !again {
			return v, conflicts, nil
		}
		conflicts++
	}
	return zero, conflicts, ErrTooManyConflicts
}

// decision is one candidate's way through the protocol. Its methods are
// the protocol's steps; each returns the verdict, or again when a
// compare-and-swap was lost and the protocol starts over at step C1.
type decision struct {
	g       *Guard
	c       Candidate
	dryRun  bool
	self    HolderRef
	allowed Reason
}

// round runs the protocol once. A create creates its claim before it reads
// (step C1) unless this replica has seen the fingerprint's claim recently:
// then the claim most likely exists, and reading it first (step C3) saves
// the create that would fail. A reactivation, whose claim normally exists,
// reads first, and creates the claim (step C1) only where there is none: a
// claim is always written before the look that lets it vouch (step C2).
// A dry run reads, and writes nothing (step C4).
func (d *decision) round(ctx context.Context) (Verdict, bool, error) {
	if !d.dryRun && !d.c.Reactivation && !d.g.seen.Known(d.c.Namespace, ClaimName(d.c.Fingerprint)) {
		return d.claimFirst(ctx)
	}
	res, claimed, err := d.read(ctx)
	switch {
	case err != nil:
		return Verdict{}, false, err
	case claimed:
		return d.held(ctx, res)
	case d.dryRun:
		return d.unclaimed(ctx)
	}
	return d.claimFirst(ctx)
}
