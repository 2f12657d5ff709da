package scan_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	coordinationv1 "k8s.io/api/coordination/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/internal/auditlog"
	"github.com/rrguard/rrguard/scan"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
)

// runner returns a Runner over ns that adopts with the webhook's own Guard
// and records real Events, its metrics registry and its audit output.
func runner(t *testing.T, ns string) (*scan.Runner, *prometheus.Registry, *testenv.Buffer) {
	t.Helper()
	cs, err := kubernetes.NewForConfig(suite.Config)
	if err != nil {
		t.Fatal(err)
	}
	b := events.NewBroadcaster(&events.EventSinkImpl{Interface: cs.EventsV1()})
	ctx, cancel := context.WithCancel(context.Background())
	if err := b.StartRecordingToSinkWithContext(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		b.Shutdown()
	})
	reg := prometheus.NewRegistry()
	audit := &testenv.Buffer{}
	return &scan.Runner{
		Scanner:  &scan.Scanner{Reader: suite.Client, Adopter: dedup.NewGuard(suite.Client, suite.Client, dedup.GuardOptions{}), Namespace: ns},
		Recorder: b.NewRecorder(suite.Scheme, "rrguard-scan"),
		Audit:    auditlog.New(audit),
		Log:      auditlog.New(&testenv.Buffer{}).WithName("scan"),
		Metrics:  scan.NewMetrics(reg),
	}, reg, audit
}

func gauge(t *testing.T, reg prometheus.Gatherer, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// scanEvents waits until ns holds want Events of the scan's reason, and
// returns them.
func scanEvents(t *testing.T, ns string, want int) []eventsv1.Event {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		list := &eventsv1.EventList{}
		if err := suite.Client.List(context.Background(), list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		var out []eventsv1.Event
		for _, e := range list.Items {
			if e.Reason == scan.EventReason {
				out = append(out, e)
			}
		}
		if len(out) >= want || time.Now().After(deadline) {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A cluster that held duplicates before rrguard guarded it: the scan finds
// the set, records one Event on each member naming the others, sets the
// gauge to the number of sets, writes one audit line per set, and adopts
// the unclaimed fingerprints (the oldest of a set wins). It changes no
// request.
func TestScanFindsDuplicatesMadeWhileUnguardedAndAdoptsThem(t *testing.T) {
	ctx := context.Background()
	ns := webhooktest.UnguardedNamespace(t, suite.Env)
	dupFP, soloFP, doneFP, mixedFP := newFingerprint(t), newFingerprint(t), newFingerprint(t), newFingerprint(t)
	a := mustCreate(t, testenv.RemediationRequest(ns, "a", dupFP))
	mustCreate(t, testenv.RemediationRequest(ns, "b", dupFP))
	c := mustCreate(t, testenv.RemediationRequest(ns, "c", dupFP))
	testenv.MustSetPhase(t, suite.Client, ns, c.Name, v1alpha1.PhaseExecuting)
	solo := mustCreate(t, testenv.RemediationRequest(ns, "solo", soloFP))
	mustCreate(t, testenv.RemediationRequest(ns, "done", doneFP))
	testenv.MustSetPhase(t, suite.Client, ns, "done", v1alpha1.PhaseCompleted)
	mustCreate(t, testenv.RemediationRequest(ns, "mixed-old", mixedFP))
	testenv.MustSetPhase(t, suite.Client, ns, "mixed-old", v1alpha1.PhaseFailed)
	mixed := mustCreate(t, testenv.RemediationRequest(ns, "mixed-new", mixedFP))
	guard(t, ns)
	before := snapshotRRs(t, ns)

	r, reg, audit := runner(t, ns)
	rep, err := r.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}

	if len(rep.Duplicates) != 1 {
		t.Fatalf("duplicates = %+v, want one set", rep.Duplicates)
	}
	d := rep.Duplicates[0]
	var names []string
	for _, rq := range d.Requests {
		names = append(names, rq.Name)
	}
	if d.Fingerprint != dupFP || !slices.Equal(names, []string{"a", "b", "c"}) || d.ClaimHolder != "a" ||
		d.Requests[2].Phase != v1alpha1.PhaseExecuting || !d.Requests[0].CreatedAt.Equal(a.CreationTimestamp.Time) {
		t.Errorf("duplicate set = %+v, want a, b, c (oldest first) with the claim on a", d)
	}
	if rep.RemediationRequests != 7 || rep.Active != 5 || rep.Claims != 0 {
		t.Errorf("counts = %d stored, %d active, %d claims; want 7, 5, 0", rep.RemediationRequests, rep.Active, rep.Claims)
	}
	for fp, want := range map[string]*v1alpha1.RemediationRequest{dupFP: a, soloFP: solo, mixedFP: mixed} {
		l := webhooktest.Claim(t, suite.Client, ns, fp)
		if l == nil || (dedup.Claim{Lease: l}).HolderName() != want.Name || (dedup.Claim{Lease: l}).HolderUID() != want.UID {
			t.Errorf("claim of %s = %+v, want held by %s", want.Name, l, want.Name)
		}
	}
	if l := webhooktest.Claim(t, suite.Client, ns, doneFP); l != nil {
		t.Errorf("a claim for a fingerprint with no active request: %s", l.Name)
	}
	if len(rep.Adopted) != 3 {
		t.Errorf("adopted = %+v, want 3 claims created", rep.Adopted)
	}

	// The gauge, the Events and the audit agree with the report.
	if g := gauge(t, reg, "rrguard_duplicate_active_fingerprints"); g != 1 {
		t.Errorf("gauge = %v, want 1", g)
	}
	evs := scanEvents(t, ns, 3)
	if len(evs) != 3 {
		t.Fatalf("%d events, want one on each of a, b, c: %+v", len(evs), evs)
	}
	unseen := slices.Clone(names)
	for _, e := range evs {
		others := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == e.Regarding.Name })
		if len(others) != 2 || e.Type != "Warning" || e.Regarding.Kind != "RemediationRequest" {
			t.Errorf("event on %s: %+v", e.Regarding.Name, e)
			continue
		}
		for _, o := range others {
			if !strings.Contains(e.Note, o) || !strings.Contains(e.Note, dupFP) {
				t.Errorf("event on %s does not name %s and the fingerprint: %q", e.Regarding.Name, o, e.Note)
			}
		}
		if e.Regarding.Name != "a" && (e.Related == nil || e.Related.Name != "a") {
			t.Errorf("event on %s: related %+v, want the claim holder a", e.Regarding.Name, e.Related)
		}
		unseen = slices.DeleteFunc(unseen, func(n string) bool { return n == e.Regarding.Name })
	}
	if len(unseen) != 0 {
		t.Errorf("no event on %v", unseen)
	}
	if sets := auditMessages(t, audit, "duplicate active fingerprint"); len(sets) != 1 {
		t.Errorf("%d duplicate-set audit lines, want 1", len(sets))
	}
	if adopted := auditMessages(t, audit, "claim adopted"); len(adopted) != 3 {
		t.Errorf("%d adoption audit lines, want 3", len(adopted))
	}
	if after := snapshotRRs(t, ns); !slices.Equal(before, after) {
		t.Errorf("the scan changed requests:\nbefore %v\nafter  %v", before, after)
	}

	// A second scan finds the claims in place and adopts nothing.
	rep, err = r.RunOnce(ctx)
	if err != nil || len(rep.Adopted) != 0 || len(rep.Duplicates) != 1 {
		t.Errorf("second scan: %+v, %v; want the same set, nothing adopted", rep, err)
	}
}

// snapshotRRs returns every request of ns as name/uid/resourceVersion.
func snapshotRRs(t *testing.T, ns string) []string {
	t.Helper()
	list := &v1alpha1.RemediationRequestList{}
	if err := suite.Client.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, rr := range list.Items {
		out = append(out, rr.Name+"/"+string(rr.UID)+"/"+rr.ResourceVersion)
	}
	slices.Sort(out)
	return out
}

// auditMessages returns the audit lines with message msg.
func auditMessages(t *testing.T, audit *testenv.Buffer, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(audit.Bytes()))
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("audit line not JSON: %q", sc.Text())
		}
		if l["logger"] == auditlog.Name && l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// After adoption, the next create of an adopted fingerprint is decided on
// the claim (two Gets), which names the holder; the control, a fingerprint
// whose active request has no claim, is decided by step C2 (the replica's
// index, confirmed by a Get) and needs the claim handed over to its holder
// (C10: an update of the claim), which the counter does see.
func TestAdoptionGivesTheNextCreateTheClaimPath(t *testing.T) {
	ctx := context.Background()
	c, reqs := suite.RecordingClient(t)
	suite.Replace(t, webhooktest.Options{Client: c})
	ns := webhooktest.UnguardedNamespace(t, suite.Env)
	adoptedFP, unadoptedFP := newFingerprint(t), newFingerprint(t)
	holder := mustCreate(t, testenv.RemediationRequest(ns, "holder", adoptedFP))
	mustCreate(t, testenv.RemediationRequest(ns, "holder-dup", adoptedFP))
	guard(t, ns)
	sc := &scan.Scanner{Reader: suite.Client, Adopter: dedup.NewGuard(suite.Client, suite.Client, dedup.GuardOptions{}), Namespace: ns}
	if _, err := sc.Scan(ctx, false); err != nil {
		t.Fatal(err)
	}
	// Made after the scan, so never adopted.
	unadopted := unclaimedActive(t, ns, unadoptedFP)

	for _, tc := range []struct {
		fp        string
		holder    string
		handovers int
	}{
		{adoptedFP, holder.Name, 0},
		{unadoptedFP, unadopted.Name, 1},
	} {
		reqs.Take()
		err := suite.Client.Create(ctx, testenv.RemediationRequest(ns, "next-"+tc.holder, tc.fp))
		if d, ok := dedup.DenialFromError(err); !ok || d.Reason != dedup.ReasonDuplicate || d.Holder != tc.holder {
			t.Errorf("next create of %s: %v, want a Duplicate naming %s", tc.holder, err, tc.holder)
		}
		made := reqs.Take()
		if got := count(made, "update leases"); got != tc.handovers {
			t.Errorf("next create of %s's fingerprint: %d claim updates (%q), want %d", tc.holder, got, made, tc.handovers)
		}
		if got := count(made, "list remediationrequests"); got != 0 {
			t.Errorf("next create of %s's fingerprint: %d Lists (%q), want none", tc.holder, got, made)
		}
		if count(made, "get leases") == 0 {
			t.Errorf("next create of %s's fingerprint: the webhook read no claim (%q)", tc.holder, made)
		}
	}
}

// count returns how many of reqs are want.
func count(reqs []string, want string) int {
	n := 0
	for _, r := range reqs {
		if r == want {
			n++
		}
	}
	return n
}

// unclaimedActive stores an active request for fp in ns (guarded) and
// deletes the claim the webhook gave it.
func unclaimedActive(t *testing.T, ns, fp string) *v1alpha1.RemediationRequest {
	t.Helper()
	rr := mustCreate(t, testenv.RemediationRequest(ns, "unclaimed", fp))
	if err := suite.Client.Delete(context.Background(), webhooktest.Claim(t, suite.Client, ns, fp)); err != nil {
		t.Fatal(err)
	}
	return rr
}

// claimFor stores the claim of fp in ns as the webhook would have given it
// to holder (name, uid) at acquired.
func claimFor(t *testing.T, ns, fp, holder string, uid types.UID, acquired time.Time) {
	t.Helper()
	at := metav1.NewMicroTime(acquired)
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: dedup.ClaimName(fp),
			Labels:      map[string]string{dedup.ManagedByLabel: dedup.ManagedByValue},
			Annotations: map[string]string{dedup.FingerprintAnnotation: fp, dedup.HolderUIDAnnotation: string(uid)}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder), AcquireTime: &at},
	}
	if err := suite.Client.Create(context.Background(), l); err != nil {
		t.Fatal(err)
	}
}

// A claim whose holder has ended, beside an active request made while no
// webhook guarded: the webhook takes such a claim over for the next create
// without a List (step C5), admitting a second active request, as the
// control fingerprint shows. Adoption hands the claim to the active request
// first, so the next create is denied. A claim whose holder may still be
// in flight is left alone.
func TestAdoptionHandsOnAClaimWhoseHolderEnded(t *testing.T) {
	ctx := context.Background()
	ns := webhooktest.UnguardedNamespace(t, suite.Env)
	adopted, control, inFlight := newFingerprint(t), newFingerprint(t), newFingerprint(t)
	var actives []*v1alpha1.RemediationRequest
	for _, fp := range []string{adopted, control} {
		ended := mustCreate(t, testenv.RemediationRequest(ns, "ended-"+fp[:8], fp))
		testenv.MustSetPhase(t, suite.Client, ns, ended.Name, v1alpha1.PhaseCompleted)
		claimFor(t, ns, fp, ended.Name, ended.UID, time.Now().Add(-time.Hour))
		actives = append(actives, mustCreate(t, testenv.RemediationRequest(ns, "active-"+fp[:8], fp)))
	}
	mustCreate(t, testenv.RemediationRequest(ns, "beside-ghost", inFlight))
	claimFor(t, ns, inFlight, "ghost", "0d5e-ghost", time.Now())
	guard(t, ns)

	g := dedup.NewGuard(suite.Client, suite.Client, dedup.GuardOptions{})
	for fp, want := range map[string]dedup.ClaimAction{adopted: dedup.ClaimTakenOver, inFlight: dedup.ClaimNone} {
		a, err := g.Adopt(ctx, ns, fp, false)
		if err != nil || a.Action != want {
			t.Errorf("adopt %s: %+v, %v; want %s", fp[:8], a, err, want)
		}
	}
	if h := claimHolder(t, ns, adopted); h != actives[0].Name {
		t.Errorf("adopted claim held by %q, want %s", h, actives[0].Name)
	}
	if h := claimHolder(t, ns, inFlight); h != "ghost" {
		t.Errorf("a claim inside its grace was handed on to %q", h)
	}

	err := suite.Client.Create(ctx, testenv.RemediationRequest(ns, "next-adopted", adopted))
	if d, ok := dedup.DenialFromError(err); !ok || d.Holder != actives[0].Name {
		t.Errorf("next create of the adopted fingerprint: %v, want a Duplicate naming %s", err, actives[0].Name)
	}
	if err := suite.Client.Create(ctx, testenv.RemediationRequest(ns, "next-control", control)); err != nil {
		t.Fatalf("next create of the control fingerprint: %v (the webhook was expected to take the ended holder's claim over)", err)
	}
	if got := webhooktest.ActiveNames(t, suite.Client, ns, control); len(got) != 2 {
		t.Errorf("control: active %v; without adoption the ended holder's claim lets a second request in", got)
	}
}
