package dedup

import (
	"container/list"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// AgeJudge says how old a claim is: how long it has been held as it is now.
// The Guard takes a claim whose holder is not stored over only once its age
// reaches the grace (step C8 of docs/design.md).
type AgeJudge interface {
	// Age returns how long claim, as just read, has been held unchanged.
	Age(claim Claim) time.Duration
}

// defaultObservedClaims bounds the claims an Observations remembers once
// they have not been touched for the grace.
const defaultObservedClaims = 4096

// Observations is the AgeJudge of one replica, the way client-go's leader
// election judges a lease: a claim's age is how long this process has
// observed it unchanged at one resourceVersion, on this process's own
// monotonic clock. It never compares a time written by one machine with
// another machine's clock, so no skew between replicas can make a claim look
// older than it is. A claim this replica has never seen is age 0: it must be
// observed for the whole grace before it is taken over.
//
// The record is bounded, least recently touched claims first out, but it
// never drops a claim touched within the last keep (the grace): forgetting a
// claim restarts its observation, and a claim forgotten inside its grace
// whenever enough others were touched would wait forever. So the record holds
// every claim touched within the grace, and of the others at most size.
type Observations struct {
	clock clock.PassiveClock
	keep  time.Duration
	size  int

	mu    sync.Mutex
	seen  map[string]*list.Element
	order *list.List // of *observed, most recently touched first
}

// observed is when this process first saw a claim at resourceVersion, and
// last touched it.
type observed struct {
	key             string
	resourceVersion string
	since, touched  time.Time
	// stored is the holder UID this process has seen stored, whatever
	// the claim's resourceVersion since.
	stored types.UID
}

// NewObservations returns an empty record that keeps every claim touched
// within keep and at most size others (size <= 0: defaultObservedClaims),
// timed on clk (nil: the real clock).
func NewObservations(size int, keep time.Duration, clk clock.PassiveClock) *Observations {
	if size <= 0 {
		size = defaultObservedClaims
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Observations{clock: clk, keep: keep, size: size, seen: map[string]*list.Element{}, order: list.New()}
}

// Age returns how long this process has observed claim at its current
// resourceVersion, starting the observation when it is new.
func (o *Observations) Age(claim Claim) time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.clock.Now()
	ob := o.touch(claimKey(claim), now)
	if ob.resourceVersion != claim.Lease.ResourceVersion {
		ob.resourceVersion, ob.since = claim.Lease.ResourceVersion, now
	}
	return now.Sub(ob.since)
}

// touch returns the record of key, made now if there is none, as the most
// recently touched; it drops what the bound allows.
func (o *Observations) touch(key string, now time.Time) *observed {
	if e, ok := o.seen[key]; ok {
		o.order.MoveToFront(e)
		ob := e.Value.(*observed)
		ob.touched = now
		return ob
	}
	ob := &observed{key: key, since: now, touched: now}
	o.seen[key] = o.order.PushFront(ob)
	for o.order.Len() > o.size {
		last := o.order.Back()
		if now.Sub(last.Value.(*observed).touched) < o.keep {
			break // every claim left was touched within the grace
		}
		o.order.Remove(last)
		delete(o.seen, last.Value.(*observed).key)
	}
	return ob
}

// SawStored records that claim's holder was seen stored under the UID the
// claim records.
func (o *Observations) SawStored(claim Claim) {
	if claim.HolderUID() == "" {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.touch(claimKey(claim), o.clock.Now()).stored = claim.HolderUID()
}

// HolderDeleted reports whether claim's holder, not stored now, was seen
// stored under the UID the claim records, by this process or by the
// ClaimKeeper (HolderStoredAnnotation): then it was deleted, and is never
// stored again. A UID names one object for good.
func (o *Observations) HolderDeleted(claim Claim) bool {
	if claim.HolderSeenStored() {
		return true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	e, ok := o.seen[claimKey(claim)]
	return ok && claim.HolderUID() != "" && e.Value.(*observed).stored == claim.HolderUID()
}

// Observe records claim as seen now, unless it is already recorded at its
// resourceVersion: a claim this process wrote or read is one it knows.
func (o *Observations) Observe(claim Claim) { o.Age(claim) }

// Known reports whether this process has seen the claim named name in
// namespace ns recently, whatever its resourceVersion: the Guard then reads
// it rather than trying to create it (step C1).
func (o *Observations) Known(ns, name string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.seen[ns+"/"+name]
	return ok
}

// Forget drops the claim named name in namespace ns: it is gone.
func (o *Observations) Forget(ns, name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if e, ok := o.seen[ns+"/"+name]; ok {
		o.order.Remove(e)
		delete(o.seen, ns+"/"+name)
	}
}

func claimKey(c Claim) string { return c.Lease.Namespace + "/" + c.Lease.Name }
