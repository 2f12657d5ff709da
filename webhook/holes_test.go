package webhook_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
	"github.com/rrguard/rrguard/webhook"
)

// The places where a List (or a missing one) decided inside the webhook's
// reach, each put on the real control plane: every create here goes
// through the API server and the registered webhook, or through the Guard
// against the API server with the interleaving forced by a hook. Where a
// List could have saved the day, the deciding replica reads through
// noLists, a List that lags without bound: the claims alone must hold.

// failingLists fails the first n Lists it is asked for, as an API server
// that times out.
type failingLists struct {
	client.Reader
	n atomic.Int32
}

func (f *failingLists) List(ctx context.Context, l client.ObjectList, opts ...client.ListOption) error {
	if f.n.Add(-1) >= 0 {
		return errors.New("list: the server was unable to return a response in the time allotted")
	}
	return f.Reader.List(ctx, l, opts...)
}

// heldDeletes holds every Delete until gate closes and reports its result
// on done: the background release of a failed decision, late.
type heldDeletes struct {
	client.Client
	gate chan struct{}
	done chan error
}

func (h heldDeletes) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	<-h.gate
	err := h.Client.Delete(ctx, obj, opts...)
	h.done <- err
	return err
}

// failedDeletes fails every Delete: the release cannot reach the API server.
type failedDeletes struct{ client.Client }

func (failedDeletes) Delete(context.Context, client.Object, ...client.DeleteOption) error {
	return errors.New("delete: connection refused")
}

// A client retries a create under a new UID while its first attempt is
// admitted and held by a slow co-installed webhook. The retry must not take
// the claim from the attempt that will be stored: otherwise the claim ends
// up naming a UID that lost to the active request of the same name (the
// retry fails AlreadyExists), and only a List tells the next create about
// it — here one that lags, which admitted a third request.
func TestASameNameRetryDoesNotTakeTheClaimFromItsEarlierAttempt(t *testing.T) {
	const hold = 4 * time.Second
	ctx := context.Background()
	ns := coInstallSlowWebhook(t, hold)
	fp := newFingerprint(t)
	clock := clocktesting.NewFakePassiveClock(time.Now())
	suite.Replace(t, webhooktest.Options{Clock: clock, Reader: noLists{env.Client}})

	first := createAsync(testenv.RemediationRequest(ns, "held-x", fp))
	claimedBy(t, ns, fp, "held-x")
	errRetry := create(ctx, testenv.RemediationRequest(ns, "held-x", fp), false)
	if err := <-first; err != nil {
		t.Fatalf("first attempt: %v", err)
	}
	t.Logf("retry: %v", errRetry)
	x := &v1alpha1.RemediationRequest{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "held-x"}, x); err != nil {
		t.Fatal(err)
	}
	if c := (dedup.Claim{Lease: webhooktest.Claim(t, env.Client, ns, fp)}); c.HolderUID() != x.UID {
		t.Errorf("claim names %s/%s, want the stored held-x (%s)", c.HolderName(), c.HolderUID(), x.UID)
	}

	clock.SetTime(clock.Now().Add(dedup.DefaultClaimGrace))
	errY := create(ctx, testenv.RemediationRequest(ns, "y", fp), false)
	if got := webhooktest.ActiveNames(t, env.Client, ns, fp); len(got) != 1 {
		t.Fatalf("active RRs %v (y: %v), want held-x alone", got, errY)
	}
	wantDuplicate(t, errY, x, "<none>")
}

// The end state a lost same-name race used to leave: the claim names a UID
// of x that was never stored while x is active under another. The janitor
// must not delete that claim as one whose holder is gone: it Lists the
// fingerprint and hands the claim to x, so that the next create, whose List
// lags, still meets x.
func TestJanitorHandsAClaimOfANeverStoredUIDToTheActiveRequest(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	fp := newFingerprint(t)
	x := testenv.RemediationRequest(ns, "x", fp)
	if err := create(ctx, x, false); err != nil {
		t.Fatal(err)
	}
	l := webhooktest.Claim(t, env.Client, ns, fp)
	l.Annotations[dedup.HolderUIDAnnotation] = "uid-of-a-lost-retry"
	if err := env.Client.Update(ctx, l); err != nil {
		t.Fatal(err)
	}

	clock := clocktesting.NewFakePassiveClock(time.Now())
	k := &dedup.ClaimKeeper{Reader: env.Client, Writer: env.Client, Retention: dedup.DefaultClaimGrace + dedup.MinClaimRetentionMargin, Clock: clock}
	for range 2 {
		if _, err := k.Sweep(ctx, ns); err != nil {
			t.Fatal(err)
		}
		clock.SetTime(clock.Now().Add(k.RetentionPeriod()))
	}
	if c := webhooktest.Claim(t, env.Client, ns, fp); c == nil {
		t.Error("the janitor deleted the claim beside the active x")
	} else {
		wantHolder(t, ns, fp, x)
	}

	suite.Replace(t, webhooktest.Options{Reader: noLists{env.Client}})
	errY := create(ctx, testenv.RemediationRequest(ns, "y", fp), false)
	if got := webhooktest.ActiveNames(t, env.Client, ns, fp); len(got) != 1 {
		t.Fatalf("active RRs %v (y: %v), want x alone", got, errY)
	}
	wantDuplicate(t, errY, x, "<none>")
}

// x's first attempt fails at its List (step C2) and its release cannot
// delete the claim; the retry under a new UID meets x's claim, whose holder
// is not stored. Beside it stands an active request stored without a claim.
// The retry must not take the claim without the List that a stale claim of
// a never-stored holder gets (step C8).
func TestARetryAfterAFailedListStillLooksForAnUnclaimedRequest(t *testing.T) {
	const grace = 10 * time.Second
	ctx := context.Background()
	ns := env.Namespace(t)
	fp := newFingerprint(t)
	unclaimed := unclaimedActive(t, ns, fp)

	clock := clocktesting.NewFakePassiveClock(time.Now())
	reader := &failingLists{Reader: env.Client}
	reader.n.Store(1)
	g := &dedup.Guard{Reader: reader, Writer: failedDeletes{env.Client}, Grace: grace, HolderWait: -1, Clock: clock}
	if v, err := g.Admit(ctx, dedup.Candidate{Namespace: ns, Name: "x", UID: "uid-x-1", Fingerprint: fp}, false); err == nil {
		t.Fatalf("first attempt: %+v; want its List's error", v)
	}
	retry := dedup.Candidate{Namespace: ns, Name: "x", UID: "uid-x-2", Fingerprint: fp}
	v, err := g.Admit(ctx, retry, false)
	if err != nil || v.Allowed {
		t.Fatalf("retry inside the grace: %+v, %v; want denied beside %s", v, err, unclaimed.Name)
	}
	clock.SetTime(clock.Now().Add(grace))
	v, err = g.Admit(ctx, retry, false)
	if !isDuplicateOf(v, err, unclaimed.Name) {
		t.Fatalf("retry after the grace: %+v, %v; want a Duplicate of %s", v, err, unclaimed.Name)
	}
	wantHolder(t, ns, fp, unclaimed)
}

// x's decision fails at its List and releases its claim in the background;
// the API server asks again about the same create (same UID) and the
// second decision admits x. The late release must not then delete the
// claim x was admitted under: the re-ask writes the claim before it admits.
func TestALateReleaseDoesNotDeleteTheClaimOfAReAskedCreate(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	fp := newFingerprint(t)
	reader := &failingLists{Reader: env.Client}
	reader.n.Store(1)
	w := heldDeletes{Client: env.Client, gate: make(chan struct{}), done: make(chan error, 1)}
	g := &dedup.Guard{Reader: reader, Writer: w, HolderWait: -1}
	x := dedup.Candidate{Namespace: ns, Name: "x", UID: "uid-x", Fingerprint: fp}
	if v, err := g.Admit(ctx, x, false); err == nil {
		t.Fatalf("first ask: %+v; want its List's error", v)
	}
	if v, err := g.Admit(ctx, x, false); err != nil || !v.Allowed {
		t.Fatalf("second ask: %+v, %v; want x admitted", v, err)
	}
	close(w.gate)
	t.Logf("the late release: %v", <-w.done)
	if l := webhooktest.Claim(t, env.Client, ns, fp); l == nil {
		t.Error("the late release deleted the claim x was admitted under")
	} else if c := (dedup.Claim{Lease: l}); c.HolderName() != "x" {
		t.Errorf("claim held by %s, want x", c.HolderName())
	}

	other := &dedup.Guard{Reader: env.Client, Writer: env.Client, HolderWait: -1}
	v, err := other.Admit(ctx, dedup.Candidate{Namespace: ns, Name: "y", UID: "uid-y", Fingerprint: fp}, false)
	if err != nil || v.Allowed {
		t.Errorf("y beside the admitted x: %+v, %v; want denied", v, err)
	}
}

// A holder that was seen stored and is gone now was deleted (kubectl
// delete, a TTL): it can never be stored again, so the next incident is
// decided at once rather than after the grace a never-stored holder gets.
func TestTheNextIncidentAfterADeletedHolderIsDecidedAtOnce(t *testing.T) {
	const grace = 10 * time.Minute
	ctx := context.Background()
	sweep := func(t *testing.T, ns string) {
		t.Helper()
		k := &dedup.ClaimKeeper{Reader: env.Client, Writer: env.Client}
		if _, err := k.Sweep(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string]func(t *testing.T, ns, fp string) *v1alpha1.RemediationRequest{
		"deleted active, after a duplicate showed it to the replica": func(t *testing.T, ns, fp string) *v1alpha1.RemediationRequest {
			x := testenv.RemediationRequest(ns, "x", fp)
			if err := create(ctx, x, false); err != nil {
				t.Fatal(err)
			}
			wantDuplicate(t, create(ctx, testenv.RemediationRequest(ns, "dup", fp), false), x, "<none>")
			return x
		},
		"deleted active, after a sweep saw it stored": func(t *testing.T, ns, fp string) *v1alpha1.RemediationRequest {
			x := testenv.RemediationRequest(ns, "x", fp)
			if err := create(ctx, x, false); err != nil {
				t.Fatal(err)
			}
			sweep(t, ns)
			return x
		},
		"deleted by a TTL after it ended and the janitor marked it": func(t *testing.T, ns, fp string) *v1alpha1.RemediationRequest {
			x := completed(t, ns, "x", fp)
			sweep(t, ns)
			return x
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			ns := env.Namespace(t)
			fp := newFingerprint(t)
			suite.Replace(t, webhooktest.Options{Webhook: webhook.Options{ClaimGrace: grace, HolderWait: -1}})
			x := setup(t, ns, fp)
			if err := env.Client.Delete(ctx, x); err != nil {
				t.Fatal(err)
			}
			y := testenv.RemediationRequest(ns, "y", fp)
			if err := create(ctx, y, false); err != nil {
				t.Fatalf("the next incident after x was deleted: %v; want admitted at once", err)
			}
			wantHolder(t, ns, fp, y)
		})
	}
}

// More claims than a replica's record holds are touched while a claim of a
// never-stored holder waits out its grace. The waiting claim must not be
// dropped from the record (its observation would start again, and with
// enough traffic never end): the grace after the first decision that met it,
// it is taken over.
func TestAClaimInsideItsGraceIsNotForgottenUnderTraffic(t *testing.T) {
	const grace, record = 10 * time.Second, 4
	ctx := context.Background()
	ns := env.Namespace(t)
	fp := newFingerprint(t)
	ghostClaim(t, ns, fp, time.Now())
	clock := clocktesting.NewFakePassiveClock(time.Now())
	g := &dedup.Guard{Reader: env.Client, Writer: env.Client, Grace: grace, HolderWait: -1, Clock: clock, ObservedClaims: record}
	z := dedup.Candidate{Namespace: ns, Name: "z", UID: "uid-z", Fingerprint: fp}
	if v, err := g.Admit(ctx, z, false); err != nil || v.Reason != dedup.ReasonClaimInFlight {
		t.Fatalf("inside the grace: %+v, %v; want ClaimInFlight", v, err)
	}
	for i := range 2 * record {
		other := newFingerprint(t)
		if v, err := g.Admit(ctx, dedup.Candidate{Namespace: ns, Name: other[:12], UID: types.UID("uid-" + other[:8]), Fingerprint: other}, false); err != nil || !v.Allowed {
			t.Fatalf("fresh fingerprint %d: %+v, %v", i, v, err)
		}
		clock.SetTime(clock.Now().Add(grace / (2 * record)))
	}
	if v, err := g.Admit(ctx, z, false); err != nil || !v.Allowed || v.ClaimAction != dedup.ClaimTakenOver {
		t.Fatalf("the grace after the first decision: %+v, %v; want the claim taken over", v, err)
	}
}

// afterFirstList runs then once, right after the first List it answers:
// a request stored a moment after a decision's look.
type afterFirstList struct {
	client.Reader
	once sync.Once
	then func()
}

func (a *afterFirstList) List(ctx context.Context, l client.ObjectList, opts ...client.ListOption) error {
	err := a.Reader.List(ctx, l, opts...)
	a.once.Do(a.then)
	return err
}

// A reactivation of x found no claim and looked for an active request of
// its fingerprint; y is stored out of reach just after that look, while
// the fingerprint still had no claim. The first decision may miss y (y is
// stored after its look), but the claim it leaves must not vouch for a
// world without y: the same reactivation asked again, after y was stored,
// must find y. When the look ran before the claim existed, the re-ask met
// a claim naming x and was admitted beside y without a look.
func TestAReactivationsClaimIsWrittenBeforeItsLook(t *testing.T) {
	ctx := context.Background()
	ns := webhooktest.UnguardedNamespace(t, env) // out of reach: no webhook, no claim
	fp := newFingerprint(t)
	x := endedOutOfReach(t, ns, "x", fp)
	y := testenv.RemediationRequest(ns, "y", fp)
	reader := &afterFirstList{Reader: env.Client, then: func() {
		if err := env.Client.Create(ctx, y); err != nil {
			t.Errorf("store y out of reach: %v", err)
		}
	}}
	g := &dedup.Guard{Reader: reader, Writer: env.Client, HolderWait: -1}
	reactivation := reactivationOf(x)
	v, err := g.Admit(ctx, reactivation, false)
	t.Logf("first ask, y stored just after its look: %+v, %v", v, err)
	v, err = g.Admit(ctx, reactivation, false)
	if !isDuplicateOf(v, err, "y") {
		t.Fatalf("the reactivation asked again after y was stored: %+v, %v; want a Duplicate of y", v, err)
	}
	wantHolder(t, ns, fp, y)
}

// A reactivation's look fails and its claim cannot be released: the claim
// names x, pending, and vouches for nothing. A create that meets it after
// the grace must look before it takes the claim over, as it does for a
// claim whose holder was never stored: beside x stands an active request
// stored without a claim.
func TestACreateAfterAReactivationsFailedLookStillLooks(t *testing.T) {
	const grace = 10 * time.Second
	ctx := context.Background()
	ns := env.Namespace(t)
	fp := newFingerprint(t)
	x := completedWithoutClaim(t, ns, "x", fp)
	unclaimed := unclaimedActive(t, ns, fp)

	clock := clocktesting.NewFakePassiveClock(time.Now())
	reader := &failingLists{Reader: env.Client}
	reader.n.Store(1)
	g := &dedup.Guard{Reader: reader, Writer: failedDeletes{env.Client}, Grace: grace, HolderWait: -1, Clock: clock}
	reactivation := reactivationOf(x)
	v, err := g.Admit(ctx, reactivation, false)
	t.Logf("the reactivation, its look failing: %+v, %v", v, err)
	clock.SetTime(clock.Now().Add(grace))
	z := dedup.Candidate{Namespace: ns, Name: "z", UID: "uid-z", Fingerprint: fp}
	v, err = g.Admit(ctx, z, false)
	if !isDuplicateOf(v, err, unclaimed.Name) {
		t.Fatalf("a create after the grace: %+v, %v; want a Duplicate of %s", v, err, unclaimed.Name)
	}
	wantHolder(t, ns, fp, unclaimed)
}

// notedDeletes reports every Delete it passes on.
type notedDeletes struct {
	client.Client
	done chan error
}

func (n notedDeletes) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	err := n.Client.Delete(ctx, obj, opts...)
	n.done <- err
	return err
}

// The update that reactivates x is sent twice: the first request is
// admitted and its write is still on its way when the second one's look
// fails. The second decision rewrote the claim (step C5); it must not
// release it as a claim it created, or a create decided before the first
// write lands finds no claim, sees x still ended and is admitted beside it.
func TestAFailedSecondAskAboutAReactivationKeepsTheClaim(t *testing.T) {
	ctx := context.Background()
	ns := webhooktest.UnguardedNamespace(t, env) // the test decides and writes
	fp := newFingerprint(t)
	x := endedOutOfReach(t, ns, "x", fp)
	reactivation := reactivationOf(x)
	g := &dedup.Guard{Reader: env.Client, Writer: env.Client, HolderWait: -1}
	if v, err := g.Admit(ctx, reactivation, false); err != nil || !v.Allowed {
		t.Fatalf("first ask: %+v, %v; want x reactivated", v, err)
	}

	reader := &failingLists{Reader: env.Client}
	reader.n.Store(1)
	deletes := make(chan error, 1)
	second := &dedup.Guard{Reader: reader, Writer: notedDeletes{Client: env.Client, done: deletes}, HolderWait: -1}
	if v, err := second.Admit(ctx, reactivation, false); err == nil {
		t.Fatalf("second ask: %+v; want its look's error", v)
	}
	// A release runs in the background and starts at once; a second is
	// far longer than it takes.
	select {
	case err := <-deletes:
		t.Errorf("the failed second ask deleted the claim the first was admitted under (%v)", err)
	case <-time.After(time.Second):
	}

	v, err := g.Admit(ctx, dedup.Candidate{Namespace: ns, Name: "z", UID: "uid-z", Fingerprint: fp}, false)
	if err != nil || v.Allowed || v.Reason != dedup.ReasonClaimInFlight || v.HolderName != "x" {
		t.Fatalf("a create while x's reactivation is on its way: %+v, %v; want ClaimInFlight naming x", v, err)
	}
}

// A reactivation of x creates its claim, then its look fails and the claim
// cannot be released: the claim names x, stored and ended, and vouches for
// nothing, while y stands active beside x, stored without a claim. Once x
// is no longer stored at the resourceVersion the reactivation replaced (its
// status written again, or x deleted), the claim no longer reads as in
// flight; a create that meets it must still look before it takes the claim
// over, since the look of the decision that wrote it failed.
func TestAReactivationsClaimIsNotTrustedWithoutItsLook(t *testing.T) {
	ctx := context.Background()
	cases := map[string]func(t *testing.T, g *dedup.Guard, x *v1alpha1.RemediationRequest){
		"x's status written again": func(t *testing.T, _ *dedup.Guard, x *v1alpha1.RemediationRequest) {
			if err := updatePhase(x, v1alpha1.PhaseFailed); err != nil {
				t.Fatal(err)
			}
		},
		"x deleted after the replica saw it stored": func(t *testing.T, g *dedup.Guard, x *v1alpha1.RemediationRequest) {
			v, err := g.Admit(ctx, dedup.Candidate{Namespace: x.Namespace, Name: "early", UID: "uid-early", Fingerprint: x.Spec.SignalFingerprint}, false)
			if err != nil || v.Reason != dedup.ReasonClaimInFlight {
				t.Fatalf("a create while x's reactivation may be on its way: %+v, %v; want ClaimInFlight", v, err)
			}
			if err := env.Client.Delete(ctx, x); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			ns := webhooktest.UnguardedNamespace(t, env) // the test decides and writes
			fp := newFingerprint(t)
			x := endedOutOfReach(t, ns, "x", fp)
			y := testenv.RemediationRequest(ns, "y", fp)
			if err := env.Client.Create(ctx, y); err != nil {
				t.Fatal(err)
			}
			reader := &failingLists{Reader: env.Client}
			reader.n.Store(1)
			failing := &dedup.Guard{Reader: reader, Writer: failedDeletes{env.Client}, HolderWait: -1}
			if v, err := failing.Admit(ctx, reactivationOf(x), false); err == nil {
				t.Fatalf("the reactivation: %+v; want its look's error", v)
			}

			g := &dedup.Guard{Reader: env.Client, Writer: env.Client, HolderWait: -1}
			change(t, g, x)
			v, err := g.Admit(ctx, dedup.Candidate{Namespace: ns, Name: "z", UID: "uid-z", Fingerprint: fp}, false)
			if !isDuplicateOf(v, err, "y") {
				t.Fatalf("a create meeting the claim: %+v, %v; want a Duplicate of y", v, err)
			}
			wantHolder(t, ns, fp, y)
		})
	}
}

// endedOutOfReach stores a request of fp in ns, an unguarded namespace,
// and ends it, without a claim.
func endedOutOfReach(t *testing.T, ns, name, fp string) *v1alpha1.RemediationRequest {
	t.Helper()
	x := testenv.RemediationRequest(ns, name, fp)
	if err := env.Client.Create(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	if err := updatePhase(x, v1alpha1.PhaseCompleted); err != nil {
		t.Fatal(err)
	}
	return x
}

// reactivationOf is the candidate for the move of x, as stored now, back
// to an active phase.
func reactivationOf(x *v1alpha1.RemediationRequest) dedup.Candidate {
	return dedup.Candidate{Namespace: x.Namespace, Name: x.Name, UID: x.UID, Fingerprint: x.Spec.SignalFingerprint,
		Reactivation: true, StoredResourceVersion: x.ResourceVersion}
}

// isDuplicateOf reports whether a Guard's decision is a Duplicate denial
// naming holder.
func isDuplicateOf(v dedup.Verdict, err error, holder string) bool {
	return err == nil && !v.Allowed && v.Reason == dedup.ReasonDuplicate && v.Holder != nil && v.Holder.Name == holder
}
