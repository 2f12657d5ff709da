package load_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rrguard/rrguard/test/baseline"
	"github.com/rrguard/rrguard/test/gatewaytest"
	"github.com/rrguard/rrguard/test/load"
	"github.com/rrguard/rrguard/test/testenv"
)

func TestPlanShapesEachScenario(t *testing.T) {
	for _, tc := range []struct {
		scenario            load.Scenario
		signals, targets    int
		wantDistinctTargets int
	}{
		{load.Storm, 100, 1, 1},
		{load.Spread, 100, 100, 100},
		{load.Mixed, 1000, 50, 0},
	} {
		t.Run(string(tc.scenario), func(t *testing.T) {
			targets, seq, err := load.Plan(load.Options{Scenario: tc.scenario, Signals: tc.signals})
			if err != nil {
				t.Fatal(err)
			}
			if len(targets) != tc.targets || len(seq) != tc.signals {
				t.Fatalf("%d targets, %d signals; want %d, %d", len(targets), len(seq), tc.targets, tc.signals)
			}
			hits := map[int]int{}
			for _, i := range seq {
				hits[i]++
			}
			if tc.wantDistinctTargets > 0 && len(hits) != tc.wantDistinctTargets {
				t.Errorf("signals hit %d targets, want %d", len(hits), tc.wantDistinctTargets)
			}
			if tc.scenario == load.Mixed && !(hits[0] > hits[10] && hits[10] > 0 && hits[0] > tc.signals/10) {
				t.Errorf("mixed is not Zipf-like: target 0 got %d, target 10 got %d of %d", hits[0], hits[10], tc.signals)
			}
		})
	}
	if _, _, err := load.Plan(load.Options{Scenario: "hurricane"}); err == nil {
		t.Error("an unknown scenario was accepted")
	}
}

// A short mixed run through a real gateway passes the check, and the
// check fails on what it exists to find: two active requests for one
// fingerprint, and a count above the 2xx answers.
func TestRunThroughAGatewayPassesTheCheckAndTheCheckCatchesDuplicatesAndOvercounts(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	gw, err := gatewaytest.Start(gatewaytest.Options{Config: env.Config, Scheme: env.Scheme, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = gw.Stop() }()
	res, err := load.Run(ctx, load.Options{URL: gw.URL, Scenario: load.Mixed, Signals: 300, Concurrency: 16, Fingerprints: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res.Summary())
	if res.Codes()[http.StatusCreated]+res.Codes()[http.StatusAccepted] != 300 {
		t.Errorf("answers %v, want every signal 201 or 202", res.Codes())
	}
	c, err := load.Verify(ctx, env.Client, ns, res.Counted())
	if err != nil {
		t.Fatal(err)
	}
	if c.Err() != nil || c.Answered2xx != 300 || c.Stored != 300 || c.Active != c.Fingerprints {
		t.Errorf("check %s: %v", c, c.Err())
	}

	// Now break the rules behind the gateway's back, where the webhook
	// does not guard.
	bad := unguardedNamespace(t)
	dup := load.NewTarget("payments", "dup")
	for _, name := range []string{"one", "two"} {
		rr := testenv.RemediationRequest(bad, name, dup.Fingerprint)
		if err := env.Client.Create(ctx, rr); err != nil {
			t.Fatal(err)
		}
		if err := testenv.SetStatus(ctx, env.Client, bad, name, map[string]any{"deduplication": map[string]any{"occurrenceCount": 2}}); err != nil {
			t.Fatal(err)
		}
	}
	c, err = load.Verify(ctx, env.Client, bad, map[string]int64{dup.Fingerprint: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Problems) != 2 || c.Active != 2 || c.Stored != 4 {
		t.Errorf("check on two active requests counting 4 for 3 answers: %s %v; want 2 problems (duplicate, count)", c, c.Problems)
	}
}

// The per-signal baseline the benchmarks compare against, under a short
// storm: it makes duplicates, and the check says so. If this ever passes
// the check, the storm no longer shows what rrguard guards against.
func TestTheBaselineUnderAStormMakesDuplicatesAndTheCheckFails(t *testing.T) {
	ns := unguardedNamespace(t)
	srv := serveBaseline(t, ns)
	res, err := load.Run(context.Background(), load.Options{URL: srv, Scenario: load.Storm, Signals: 64, Concurrency: 64, TargetPrefix: "naive"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := load.Verify(context.Background(), env.Client, ns, res.Counted())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("baseline: %s; check: %s", res.Summary(), c)
	if c.RemediationRequests <= 1 || c.Err() == nil {
		t.Fatalf("the baseline made %d request(s) for one incident under a storm of 64 at once; the storm no longer shows the race", c.RemediationRequests)
	}
}

// kubernaut's own design, as the benchmarks run it, under a short storm
// spread over two "pods": every signal answered 2xx is counted exactly
// once, and every lock is released. (Its lock is per pod, so it does not
// stop the pods' own concurrent signals from racing; how many requests it
// makes for the incident is reported, not asserted.)
func TestTheKubernautBaselineCountsEveryAnsweredSignalAndReleasesItsLocks(t *testing.T) {
	ns := unguardedNamespace(t)
	var requests atomic.Int64
	c, err := client.New(gatewaytest.CountRequests(env.Config, &requests), client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	srv := gatewaytest.ServeCounter(t, &baseline.KubernautCounter{Client: c, Namespace: ns, Targets: gatewaytest.Targets(t, env.Config, c)})
	ctx := context.Background()
	res, err := load.Run(ctx, load.Options{URL: srv, Scenario: load.Storm, Signals: 64, Concurrency: 16, TargetPrefix: "kubernaut"})
	if err != nil {
		t.Fatal(err)
	}
	check, err := load.Verify(ctx, env.Client, ns, res.Counted())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kubernaut-style: %s; %d API requests; check: %s", res.Summary(), requests.Load(), check)
	if check.Answered2xx == 0 {
		t.Fatalf("no signal was answered 2xx: %v", res.Codes())
	}
	if check.Stored != check.Answered2xx {
		t.Errorf("stored %d counts for %d signals answered 2xx", check.Stored, check.Answered2xx)
	}
	leases := &coordinationv1.LeaseList{}
	if err := env.Client.List(ctx, leases, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(leases.Items) != 0 {
		t.Errorf("%d lock Lease(s) left behind after every signal was answered", len(leases.Items))
	}
}
