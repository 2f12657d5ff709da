package dedup

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

func TestFollow(t *testing.T) {
	g := &Guard{Grace: 7 * time.Second}
	lead := Candidate{Name: "lead", UID: "u-lead"}
	other := Candidate{Name: "other", UID: "u-other"}
	holder := &v1alpha1.RemediationRequest{ObjectMeta: metav1.ObjectMeta{Name: "holder"}}
	cases := []struct {
		name   string
		v      Verdict
		c      Candidate
		want   Verdict
		follow bool
	}{
		{"lead admitted: the others meet its claim in flight",
			Verdict{Allowed: true, Reason: ReasonUnique, ClaimAction: ClaimCreated}, other,
			Verdict{Reason: ReasonClaimInFlight, HolderName: "lead", RetryAfter: 7 * time.Second, ClaimAction: ClaimNone, Coalesced: true}, true},
		{"lead re-activated: the others meet its claim in flight",
			Verdict{Allowed: true, Reason: ReasonReactivated, ClaimAction: ClaimTakenOver}, other,
			Verdict{Reason: ReasonClaimInFlight, HolderName: "lead", RetryAfter: 7 * time.Second, ClaimAction: ClaimNone, Coalesced: true}, true},
		{"lead a duplicate: so are the others, of the same holder",
			Verdict{Reason: ReasonDuplicate, Holder: holder, ClaimAction: ClaimCreated}, other,
			Verdict{Reason: ReasonDuplicate, Holder: holder, ClaimAction: ClaimNone, Coalesced: true}, true},
		{"lead met a claim in flight: so do the others",
			Verdict{Reason: ReasonClaimInFlight, HolderName: "x", RetryAfter: time.Second}, other,
			Verdict{Reason: ReasonClaimInFlight, HolderName: "x", RetryAfter: time.Second, ClaimAction: ClaimNone, Coalesced: true}, true},
		{"the lead's name under another UID decides alone",
			Verdict{Allowed: true, Reason: ReasonUnique}, Candidate{Name: "lead", UID: "u-2"}, Verdict{}, false},
		{"the duplicate's holder itself decides alone",
			Verdict{Reason: ReasonDuplicate, Holder: holder}, Candidate{Name: "holder"}, Verdict{}, false},
		{"the in-flight holder itself decides alone",
			Verdict{Reason: ReasonClaimInFlight, HolderName: "other"}, other, Verdict{}, false},
		{"a duplicate without a holder follows nothing",
			Verdict{Reason: ReasonDuplicate}, other, Verdict{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := g.follow(tc.v, lead, tc.c)
			if ok != tc.follow {
				t.Fatalf("follow = %v, want %v", ok, tc.follow)
			}
			if ok && (got.Allowed != tc.want.Allowed || got.Reason != tc.want.Reason || got.Holder != tc.want.Holder ||
				got.HolderName != tc.want.HolderName || got.RetryAfter != tc.want.RetryAfter ||
				got.ClaimAction != tc.want.ClaimAction || got.Coalesced != tc.want.Coalesced) {
				t.Errorf("follow = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// gatedReader counts reads and, once armed, holds the next read until
// released, so that a test can queue candidates behind a decision in flight.
type gatedReader struct {
	client.Reader
	reads atomic.Int32

	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan struct{}
}

func (r *gatedReader) arm() (entered, release chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.armed, r.entered, r.release = true, make(chan struct{}), make(chan struct{})
	return r.entered, r.release
}

func (r *gatedReader) gate() {
	r.mu.Lock()
	if !r.armed {
		r.mu.Unlock()
		return
	}
	r.armed = false
	entered, release := r.entered, r.release
	r.mu.Unlock()
	close(entered)
	<-release
}

func (r *gatedReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	r.reads.Add(1)
	r.gate()
	return r.Reader.Get(ctx, key, obj, opts...)
}

func (r *gatedReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	r.reads.Add(1)
	r.gate()
	return r.Reader.List(ctx, list, opts...)
}

// newFakeClient returns a fake client that knows RemediationRequests (with
// the fingerprint field selectable) and Leases.
func newFakeClient(t *testing.T) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{v1alpha1.AddToScheme, coordinationv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	return fake.NewClientBuilder().WithScheme(scheme).
		WithIndex(&v1alpha1.RemediationRequest{}, v1alpha1.FingerprintField, func(o client.Object) []string {
			return []string{o.(*v1alpha1.RemediationRequest).Spec.SignalFingerprint}
		}).Build()
}

// TestCoalescerDecidesAQueuedBurstWithFewReads is a unit test with the fake
// client; the real API server and two replicas are in
// webhook.TestTortureTwoReplicas.
func TestCoalescerDecidesAQueuedBurstWithFewReads(t *testing.T) {
	c := newFakeClient(t)
	reader := &gatedReader{Reader: c}
	// No wait for holders here: nothing stores them (TestCoalescer...
	// FollowersShareTheWaitForTheLead covers the wait).
	s := NewCoalescer(&Guard{Reader: reader, Writer: c, HolderWait: -1})
	const fp = "3c6e0b8a9c15224a8228b9a98ca1531d2b6e4d4fb2a4d1b5c0fe2d3c1a2b3c4d"
	const width = 20

	type out struct {
		name string
		v    Verdict
		err  error
	}
	// burst starts lead, holds its first read until width-1 others have
	// queued behind it, then collects every verdict.
	burst := func(lead string) (verdicts []out, reads int32) {
		reader.reads.Store(0)
		entered, release := reader.arm()
		results := make(chan out, width)
		admit := func(name string) {
			v, err := s.Admit(context.Background(), Candidate{Namespace: "ns", Name: name, UID: types.UID("uid-" + name), Fingerprint: fp}, false)
			results <- out{name, v, err}
		}
		go admit(lead)
		<-entered
		for i := 1; i < width; i++ {
			go admit(fmt.Sprintf("%s-%d", lead, i))
		}
		for s.group.Waiting("ns/"+fp) < width-1 {
			time.Sleep(time.Millisecond)
		}
		close(release)
		for range width {
			o := <-results
			if o.err != nil {
				t.Fatalf("%s: %v", o.name, o.err)
			}
			verdicts = append(verdicts, o)
		}
		return verdicts, reader.reads.Load()
	}

	// A new incident: the lead is admitted, and the 19 that queued during
	// its decision meet its claim in flight without a read of their own.
	verdicts, reads := burst("first")
	for _, o := range verdicts {
		switch {
		case o.name == "first":
			if !o.v.Allowed || o.v.Coalesced {
				t.Errorf("first: %+v, want admitted on its own decision", o.v)
			}
		case o.v.Allowed || !o.v.Coalesced || o.v.Reason != ReasonClaimInFlight || o.v.HolderName != "first":
			t.Errorf("%s: %+v, want a coalesced ClaimInFlight naming first", o.name, o.v)
		}
	}
	if reads != 1 {
		t.Errorf("%d reads for the new incident's burst, want 1 (the lead's List after creating its claim)", reads)
	}

	// first is not stored yet: the next burst's lead meets its claim in
	// flight, and so, with no read of their own, do those who queued
	// during that decision (the claim is well inside its grace).
	verdicts, reads = burst("early")
	for _, o := range verdicts {
		if o.v.Allowed || o.v.Reason != ReasonClaimInFlight || o.v.HolderName != "first" || o.v.Coalesced != (o.name != "early") {
			t.Errorf("%s: %+v, want ClaimInFlight naming first, coalesced unless the lead", o.name, o.v)
		}
	}
	if reads != 2 {
		t.Errorf("%d reads for the in-flight burst, want 2 (the lead's claim Get and holder Get)", reads)
	}

	// The winner is stored, active. Now the lead reads it as the holder;
	// those who queued meanwhile cannot follow reads older than their
	// arrival, so one of them reads again and the other 18 follow it.
	winner := &v1alpha1.RemediationRequest{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "first", UID: "uid-first"},
		Spec: v1alpha1.RemediationRequestSpec{SignalFingerprint: fp}}
	if err := c.Create(context.Background(), winner); err != nil {
		t.Fatal(err)
	}
	verdicts, reads = burst("second")
	coalesced := 0
	for _, o := range verdicts {
		if o.v.Allowed || o.v.Reason != ReasonDuplicate || o.v.Holder == nil || o.v.Holder.Name != "first" {
			t.Errorf("%s: %+v, want Duplicate of first", o.name, o.v)
		}
		if o.v.Coalesced {
			coalesced++
		}
	}
	if coalesced != width-2 {
		t.Errorf("%d verdicts coalesced, want %d", coalesced, width-2)
	}
	if reads != 4 {
		t.Errorf("%d reads for the known incident's burst, want 4 (claim Get + holder Get, twice)", reads)
	}
}

// getCounter counts the Gets of one name.
type getCounter struct {
	client.Reader
	name string
	gets atomic.Int32
}

func (r *getCounter) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if key.Name == r.name {
		r.gets.Add(1)
	}
	return r.Reader.Get(ctx, key, obj, opts...)
}

// The candidates that queued behind an admitted lead share one wait for it
// to be stored (step C9) and learn it is the holder as soon as it is: a
// Duplicate naming it, not a ClaimInFlight that sends them away. A unit test
// with the fake client; webhook.TestTortureTwoReplicas runs the real thing.
func TestCoalescerFollowersShareTheWaitForTheLead(t *testing.T) {
	c := newFakeClient(t)
	const fp = "4d6e0b8a9c15224a8228b9a98ca1531d2b6e4d4fb2a4d1b5c0fe2d3c1a2b3c4d"
	const followers = 12
	counted := &getCounter{Reader: c, name: "lead"}
	gate := &gatedReader{Reader: counted}
	s := NewCoalescer(&Guard{Reader: gate, Writer: c, HolderWait: 2 * time.Second})

	type out struct {
		name string
		v    Verdict
		err  error
	}
	results := make(chan out, followers+1)
	admit := func(name string) {
		v, err := s.Admit(context.Background(), Candidate{Namespace: "ns", Name: name, UID: types.UID("uid-" + name), Fingerprint: fp}, false)
		results <- out{name, v, err}
	}
	entered, release := gate.arm()
	go admit("lead")
	<-entered // the lead's List, after it created the claim
	for i := range followers {
		go admit(fmt.Sprintf("f-%d", i))
	}
	for s.group.Waiting("ns/"+fp) < followers {
		time.Sleep(time.Millisecond)
	}
	close(release)

	lead := <-results
	if lead.name != "lead" || lead.err != nil || !lead.v.Allowed {
		t.Fatalf("first answer %+v, want the lead admitted", lead)
	}
	// The API server stores the lead once it has the answer.
	stored := &v1alpha1.RemediationRequest{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "lead", UID: "uid-lead"},
		Spec: v1alpha1.RemediationRequestSpec{SignalFingerprint: fp}}
	if err := c.Create(context.Background(), stored); err != nil {
		t.Fatal(err)
	}
	for range followers {
		o := <-results
		if o.err != nil || o.v.Allowed || o.v.Reason != ReasonDuplicate || o.v.Holder == nil || o.v.Holder.Name != "lead" || !o.v.Coalesced {
			t.Errorf("%s: %+v, %v; want a coalesced Duplicate naming lead", o.name, o.v, o.err)
		}
	}
	if n := counted.gets.Load(); n >= followers {
		t.Errorf("%d Gets of the lead for %d followers, want one shared wait", n, followers)
	}
}
