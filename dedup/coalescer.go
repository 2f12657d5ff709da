package dedup

import (
	"context"
	"fmt"
	"time"

	"github.com/rrguard/rrguard/internal/coalesce"
)

// Admitter decides whether a Candidate may hold its fingerprint. *Guard and
// *Coalescer are Admitters.
type Admitter interface {
	Admit(ctx context.Context, c Candidate, dryRun bool) (Verdict, error)
}

// Coalescer shares one Guard decision among the candidates for a fingerprint
// that arrive while a decision for it is running. A burst of creates for one
// incident — every gateway replica and every other creator at once — costs a
// replica a few rounds of claim reads instead of one round per create: only
// one candidate can win, and once the first decision is known the others'
// follow from it without asking the API server again.
//
// It stays exact because a batch starts only after each of its candidates
// arrived (see coalesce.Group): the verdict given to a follower is the one
// the protocol would have given it if it had run right after the batch's
// first candidate, a moment inside the follower's own request. Followers get
// denials only (Duplicate or ClaimInFlight); a denial never lets a duplicate
// through, and each names the holder as of that moment.
type Coalescer struct {
	guard *Guard
	group *coalesce.Group[*admission]
}

type admission struct {
	ctx    context.Context
	c      Candidate
	result chan admitted
}

type admitted struct {
	v   Verdict
	err error
}

// NewCoalescer returns a Coalescer deciding with g.
func NewCoalescer(g *Guard) *Coalescer {
	s := &Coalescer{guard: g}
	s.group = coalesce.New(s.decideBatch)
	return s
}

// Admit decides c like Guard.Admit. Dry runs are decided on their own: they
// write no claim, so nothing may follow from them.
func (s *Coalescer) Admit(ctx context.Context, c Candidate, dryRun bool) (Verdict, error) {
	if dryRun {
		return s.guard.Admit(ctx, c, true)
	}
	a := &admission{ctx: ctx, c: c, result: make(chan admitted, 1)}
	s.group.Add(c.Namespace+"/"+c.Fingerprint, a)
	select {
	case r := <-a.result:
		return r.v, r.err
	case <-ctx.Done():
		// The decision may still be made (and a claim taken) after the
		// request gave up; like a crashed admission, such a claim is
		// taken over once its grace has passed.
		return Verdict{}, context.Cause(ctx)
	}
}

// decideBatch runs the rounds of batch until every candidate has its verdict.
func (s *Coalescer) decideBatch(key string, batch []*admission) {
	for len(batch) > 0 {
		batch = s.round(key, batch)
	}
}

// follower is a candidate whose verdict follows from its round's lead.
type follower struct {
	a *admission
	r admitted
}

// round runs the protocol for the first candidate of batch still waiting
// and derives the others' verdicts from its verdict; it returns the
// candidates that cannot follow (one is the holder named), for a later
// round.
//
// When the lead is admitted, the candidates that arrived while it was being
// decided follow too, although they are not in the batch: from the moment
// the lead's claim was written until the lead's response is sent — and
// their verdicts are derived before it is sent — the claim is held by an RR
// that cannot be stored yet, so "ClaimInFlight, held by lead" is what the
// protocol would tell each of them now, inside their own requests. Then,
// after the lead's answer has gone, they share one wait for the lead to be
// stored (step C9 of docs/design.md): stored and active, it is what the
// protocol tells each of them at that moment, still inside their requests:
// Duplicate, naming the lead. A ClaimInFlight verdict settles latecomers
// too, and a Duplicate one does not; settlesLatecomers says why.
func (s *Coalescer) round(key string, batch []*admission) []*admission {
	lead, rest := batch[0], batch[1:]
	if err := lead.ctx.Err(); err != nil {
		lead.result <- admitted{err: err}
		return rest
	}
	clk := s.guard.clock()
	start := clk.Now()
	v, err := s.admitLead(lead)
	if err != nil && lead.ctx.Err() != nil {
		// The lead gave up; that says nothing about the others.
		lead.result <- admitted{v: v, err: err}
		return rest
	}
	if err == nil && s.settlesLatecomers(v, clk.Since(start)) {
		rest = append(rest, s.group.Drain(key)...)
	}
	// Derive the others' verdicts before the lead's answer leaves, so
	// that the lead's RR cannot be stored before they are decided.
	var next []*admission
	followers := make([]follower, 0, len(rest))
	for _, a := range rest {
		if err != nil {
			// The API server failed the lead; it would fail the
			// others the same moment. Fail them closed too.
			followers = append(followers, follower{a, admitted{err: err}})
			continue
		}
		if f, ok := s.guard.follow(v, lead.c, a.c); ok {
			followers = append(followers, follower{a, admitted{v: f}})
			continue
		}
		next = append(next, a)
	}
	lead.result <- admitted{v: v, err: err}
	if err == nil && v.Allowed && len(followers) > 0 {
		s.awaitLead(lead.c, start.Add(s.guard.timeout()), followers)
	}
	for _, f := range followers {
		f.a.result <- f.r
	}
	return next
}

// admitLead decides the lead of a round, a panic turned into an error (so
// every candidate of the round fails closed): a round runs on a goroutine
// of the Group's, where the handler's recovery does not reach, and a panic
// there would end the replica.
func (s *Coalescer) admitLead(lead *admission) (v Verdict, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error deciding fingerprint %s: %v", lead.c.Fingerprint, p)
		}
	}()
	return s.guard.Admit(lead.ctx, lead.c, false)
}

// awaitLead waits, until deadline at the latest, for the admitted lead to
// be stored, and turns the followers' ClaimInFlight verdicts into Duplicate
// ones naming it once it is stored and active.
func (s *Coalescer) awaitLead(lead Candidate, deadline time.Time, followers []follower) {
	left := deadline.Sub(s.guard.clock().Now())
	if left <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), left)
	defer cancel()
	stored := s.guard.awaitStored(ctx, lead.Namespace, lead.holderRef())
	if stored == nil || !IsActive(stored) {
		return
	}
	for i := range followers {
		if r := &followers[i].r; r.err == nil && r.v.Reason == ReasonClaimInFlight && r.v.HolderName == lead.Name {
			r.v = duplicateOf(stored, ClaimNone)
			r.v.Coalesced = true
		}
	}
}

// settlesLatecomers reports whether v, decided in took, also settles the
// candidates that arrived while it was being decided (see round). An
// admitted lead does, for the reason round gives. So does a ClaimInFlight
// verdict while the claim is still inside its grace: the precise answer for
// a latecomer may instead be Duplicate (the holder got stored meanwhile),
// but both are denials, and ClaimInFlight only asks the client to look
// again, which then finds the holder. A Duplicate verdict does not: its
// holder may have ended after it was read, and a latecomer must then be
// admitted.
func (s *Coalescer) settlesLatecomers(v Verdict, took time.Duration) bool {
	switch {
	case v.Allowed:
		return true
	case v.Reason == ReasonClaimInFlight:
		return v.RetryAfter > took
	}
	return false
}

// follow derives c's verdict from v, the verdict just given to lead for the
// same fingerprint: what Admit would answer c if it ran now. ok is false when
// c must be decided on its own: it is the lead itself under another UID, or
// the holder v names.
func (g *Guard) follow(v Verdict, lead, c Candidate) (f Verdict, ok bool) {
	if c.Name == lead.Name {
		return Verdict{}, false
	}
	switch {
	case v.Allowed:
		// lead holds the claim now and is not stored (or, re-activated,
		// not stored active) yet: c meets the claim within its grace.
		f = claimInFlight(lead.Name, g.grace())
	case v.Reason == ReasonDuplicate && v.Holder != nil && v.Holder.Name != c.Name:
		f = duplicateOf(v.Holder, ClaimNone)
	case v.Reason == ReasonClaimInFlight && v.HolderName != c.Name:
		f = claimInFlight(v.HolderName, v.RetryAfter)
	default:
		return Verdict{}, false
	}
	f.Coalesced = true
	return f, true
}
