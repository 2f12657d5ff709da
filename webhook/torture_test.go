package webhook_test

import (
	"context"
	"sync"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
)

const (
	tortureRounds = 50
	tortureWidth  = 32
)

// stormResult is what one storm of simultaneous creates produced.
type stormResult struct {
	admittedPerRound []int
	denied           int
	errs             []error
}

func (r stormResult) roundsWithDuplicates() (rounds, extra int) {
	for _, n := range r.admittedPerRound {
		if n > 1 {
			rounds++
			extra += n - 1
		}
	}
	return rounds, extra
}

// storm runs rounds of width simultaneous creates, one fresh fingerprint
// per round, and counts what was admitted.
func storm(t *testing.T, ns string, rounds, width int) stormResult {
	t.Helper()
	res := stormResult{admittedPerRound: make([]int, rounds)}
	var mu sync.Mutex
	for round := range rounds {
		fp := newFingerprint(t)
		testenv.AtOnce(width, func(int) {
			err := create(context.Background(), testenv.RemediationRequest(ns, "", fp), false)
			mu.Lock()
			defer mu.Unlock()
			switch _, denied := dedup.DenialFromError(err); {
			case err == nil:
				res.admittedPerRound[round]++
			case denied:
				res.denied++
			default:
				res.errs = append(res.errs, err)
			}
		})
	}
	return res
}

// TestTortureTwoReplicas: two webhook servers behind a round-robin proxy,
// as a Service spreads admissions over two replicas; 50 rounds of 32
// simultaneous creates of one fresh fingerprint each admit exactly one.
func TestTortureTwoReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("torture test")
	}
	ns := env.Namespace(t)
	rs := suite.Replicas(t, 2, webhooktest.Options{})

	res := storm(t, ns, tortureRounds, tortureWidth)

	for _, err := range res.errs {
		t.Errorf("create failed with neither an admission nor a denial: %v", err)
	}
	for round, n := range res.admittedPerRound {
		if n != 1 {
			t.Errorf("round %d: %d admitted, want exactly 1", round, n)
		}
	}
	if want := tortureRounds * (tortureWidth - 1); res.denied != want {
		t.Errorf("%d denied, want %d", res.denied, want)
	}
	// Both replicas decided: the proxy spread connections over both, and
	// both audited decisions.
	for i, r := range rs {
		if n := suite.Proxy.Connections(r.Addr); n == 0 {
			t.Errorf("replica %d got no connection", i+1)
		}
		if n := len(auditLines(t, r)); n == 0 {
			t.Errorf("replica %d audited no decision", i+1)
		}
	}
	// Every round's fingerprint holds exactly one request in the store.
	var listed int
	items := &v1alpha1.RemediationRequestList{}
	if err := env.Client.List(context.Background(), items); err != nil {
		t.Fatal(err)
	}
	perFP := map[string]int{}
	for _, rr := range items.Items {
		if rr.Namespace == ns {
			perFP[rr.Spec.SignalFingerprint]++
			listed++
		}
	}
	for fp, n := range perFP {
		if n != 1 {
			t.Errorf("fingerprint %s has %d stored requests, want 1", fp, n)
		}
	}
	if listed != tortureRounds {
		t.Errorf("%d requests stored, want %d", listed, tortureRounds)
	}
	// The load did exercise the coalescer: some denials followed from a
	// simultaneous decision instead of reads of their own. (Were it never
	// to coalesce, this test would prove only the bare Guard.)
	coalesced := 0
	for _, r := range rs {
		for _, l := range auditLines(t, r) {
			if l.Coalesced != nil && *l.Coalesced {
				coalesced++
				if l.Decision != "denied" {
					t.Errorf("a coalesced verdict allowed %s/%s", l.Namespace, l.Name)
				}
			}
		}
	}
	if coalesced == 0 {
		t.Errorf("no verdict was coalesced under %d simultaneous creates", tortureWidth)
	}
	t.Logf("claim protocol: %d rounds x %d simultaneous creates over 2 replicas: %d admitted, %d denied (%d of them coalesced), connections %d/%d",
		tortureRounds, tortureWidth, listed, res.denied, coalesced, suite.Proxy.Connections(rs[0].Addr), suite.Proxy.Connections(rs[1].Addr))
}

// queryOnly is the webhook a user writes first: List the fingerprint's
// requests through the API and deny if one is active. No claim.
type queryOnly struct{ decoder admission.Decoder }

func (q queryOnly) Handle(ctx context.Context, req admission.Request) admission.Response {
	rr := &v1alpha1.RemediationRequest{}
	if err := q.decoder.Decode(req, rr); err != nil {
		return admission.Errored(400, err)
	}
	items, err := dedup.ListByFingerprint(ctx, env.Client, req.Namespace, rr.Spec.SignalFingerprint)
	if err != nil {
		return admission.Errored(500, err)
	}
	for i := range items {
		if dedup.IsActive(&items[i]) {
			v := dedup.Verdict{Reason: dedup.ReasonDuplicate, Holder: &items[i]}
			resp := admission.Denied("duplicate")
			resp.Result = dedup.DenialStatus(req.Namespace, rr.Spec.SignalFingerprint, v, false)
			return resp
		}
	}
	return admission.Allowed("")
}

// TestTortureQueryOnlyAdmitsDuplicates proves the torture test can fail: the
// query-only webhook, on the same two-replica setup and the same load, lets
// duplicates through.
func TestTortureQueryOnlyAdmitsDuplicates(t *testing.T) {
	if testing.Short() {
		t.Skip("torture test")
	}
	ns := env.Namespace(t)
	suite.Replicas(t, 2, webhooktest.Options{Handler: queryOnly{decoder: admission.NewDecoder(env.Scheme)}})

	res := storm(t, ns, tortureRounds, tortureWidth)
	for _, err := range res.errs {
		t.Errorf("create failed with neither an admission nor a denial: %v", err)
	}
	rounds, extra := res.roundsWithDuplicates()
	if rounds == 0 {
		t.Fatalf("the query-only webhook admitted exactly one per round in all %d rounds; the load does not exercise the race", tortureRounds)
	}
	t.Logf("query-only: duplicates in %d of %d rounds, %d extra requests (%.1f per incident)",
		rounds, tortureRounds, extra, float64(tortureRounds+extra)/tortureRounds)
}
