package dedup

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

func claimAt(name, rv string) Claim {
	return Claim{Lease: &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, ResourceVersion: rv}}}
}

func TestObservationsAgeIsWhatThisReplicaObserved(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	const keep = 10 * time.Second
	o := NewObservations(2, keep, clk)
	step := func(d time.Duration) { clk.SetTime(clk.Now().Add(d)) }

	// However old the claim says it is, a claim never seen is new.
	old := claimAt("a", "1")
	old.Lease.Spec.AcquireTime = &metav1.MicroTime{Time: clk.Now().Add(-time.Hour)}
	if got := o.Age(old); got != 0 {
		t.Errorf("first sight: age %s, want 0", got)
	}
	step(7 * time.Second)
	if got := o.Age(claimAt("a", "1")); got != 7*time.Second {
		t.Errorf("unchanged for 7s: age %s, want 7s", got)
	}
	// Changed: the observation starts again.
	if got := o.Age(claimAt("a", "2")); got != 0 {
		t.Errorf("at a new resourceVersion: age %s, want 0", got)
	}
	step(time.Second)
	if got := o.Age(claimAt("a", "2")); got != time.Second {
		t.Errorf("age %s, want 1s", got)
	}
	if !o.Known("ns", "a") || o.Known("ns", "b") {
		t.Error("Known: want a, not b")
	}

	// Bounded, but never below what was touched within keep (the grace):
	// a third claim touched now leaves a in the record.
	o.Observe(claimAt("b", "1"))
	o.Observe(claimAt("c", "1"))
	if !o.Known("ns", "a") {
		t.Error("a forgotten though touched within keep")
	}
	// Once a has not been touched for keep, the least recently touched
	// claims go until the record is back to its bound, and a forgotten
	// claim is observed afresh.
	step(keep)
	o.Observe(claimAt("d", "1"))
	if o.Known("ns", "a") || o.Known("ns", "b") || !o.Known("ns", "c") || !o.Known("ns", "d") {
		t.Errorf("after keep, with d: a %v b %v c %v d %v; want c and d alone",
			o.Known("ns", "a"), o.Known("ns", "b"), o.Known("ns", "c"), o.Known("ns", "d"))
	}
	step(time.Minute)
	if got := o.Age(claimAt("a", "2")); got != 0 {
		t.Errorf("a forgotten: age %s, want 0", got)
	}
	o.Forget("ns", "a")
	if o.Known("ns", "a") {
		t.Error("a known after Forget")
	}
}
