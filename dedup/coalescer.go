package dedup

import (
	"context"
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
	s.group = coalesce.New(s.decide)
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

// decide runs the protocol for the first candidate of batch still waiting
// and derives the others' verdicts from its verdict; a candidate that cannot
// follow (it is the holder named) is decided in a later round.
//
// When the lead is admitted, the candidates that arrived while it was being
// decided follow too, although they are not in the batch: from the moment
// the lead's claim was written until the lead's response is sent — and this
// runs before it is sent — the claim is held by an RR that cannot be stored
// yet, so "ClaimInFlight, held by lead" is what the protocol would tell each
// of them now, inside their own requests. A ClaimInFlight verdict settles
// them too, and a Duplicate one does not; settlesLatecomers says why.
func (s *Coalescer) decide(key string, batch []*admission) {
	for len(batch) > 0 {
		lead, rest := batch[0], batch[1:]
		if err := lead.ctx.Err(); err != nil {
			lead.result <- admitted{err: err}
			batch = rest
			continue
		}
		start := s.guard.now()
		v, err := s.guard.Admit(lead.ctx, lead.c, false)
		decided := s.guard.now().Sub(start)
		if err != nil && lead.ctx.Err() != nil {
			// The lead gave up; that says nothing about the others.
			lead.result <- admitted{v: v, err: err}
			batch = rest
			continue
		}
		if err == nil && s.settlesLatecomers(v, decided) {
			rest = append(rest, s.group.Drain(key)...)
		}
		// Settle the others before the lead's answer leaves, so that
		// the lead's RR cannot be stored before they are decided.
		var next []*admission
		settled := make([]func(), 0, len(rest))
		for _, a := range rest {
			if err != nil {
				// The API server failed the lead; it would fail the
				// others the same moment. Fail them closed too.
				settled = append(settled, func() { a.result <- admitted{err: err} })
				continue
			}
			if f, ok := s.guard.follow(v, lead.c, a.c); ok {
				settled = append(settled, func() { a.result <- admitted{v: f} })
				continue
			}
			next = append(next, a)
		}
		batch = next
		lead.result <- admitted{v: v, err: err}
		for _, send := range settled {
			send()
		}
	}
}

// settlesLatecomers reports whether v, decided in took, also settles the
// candidates that arrived while it was being decided (see decide). An
// admitted lead does, for the reason decide gives. So does a ClaimInFlight
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
func (g *Guard) follow(v Verdict, lead, c Candidate) (Verdict, bool) {
	if c.Name == lead.Name {
		return Verdict{}, false
	}
	switch {
	case v.Allowed:
		// lead holds the claim now and is not stored (or, re-activated,
		// not stored active) yet: c meets the claim within its grace.
		return Verdict{Reason: ReasonClaimInFlight, HolderName: lead.Name, RetryAfter: g.grace(), ClaimAction: ClaimNone, Coalesced: true}, true
	case v.Reason == ReasonDuplicate && v.Holder != nil && v.Holder.Name != c.Name:
		return Verdict{Reason: ReasonDuplicate, Holder: v.Holder, ClaimAction: ClaimNone, Coalesced: true}, true
	case v.Reason == ReasonClaimInFlight && v.HolderName != c.Name:
		return Verdict{Reason: ReasonClaimInFlight, HolderName: v.HolderName, RetryAfter: v.RetryAfter, ClaimAction: ClaimNone, Coalesced: true}, true
	}
	return Verdict{}, false
}
