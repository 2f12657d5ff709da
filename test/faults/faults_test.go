package faults_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/test/load"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
	"github.com/rrguard/rrguard/webhook"
)

// The webhook stops in the middle of a storm. It fails closed, so no new
// RemediationRequest can be created: the gateway answers 503 with
// Retry-After and writes nothing for a new incident, while repeats of an
// incident that already has its request are still counted (a status
// update does not pass the webhook). Once the webhook is back, every
// signal answered 503 is sent again and counted exactly once.
func TestWebhookStoppedMidStormIsA503WritingNothingAndResentSignalsAreCountedExactly(t *testing.T) {
	ns := suite.Namespace(t)
	gw := startGateway(t, ns)
	known := load.NewTarget("payments", "known")
	if r := load.Send(context.Background(), httpClient, gw.URL, "", known, load.Payload(known)); r.Code != http.StatusCreated {
		t.Fatalf("first signal: %d %v, want 201", r.Code, r.Err)
	}
	first := []sent{{target: known, resp: load.Response{Code: http.StatusCreated}}}

	// One signal in four repeats the known incident; the others are about
	// new incidents, eight signals each, so new ones keep coming.
	s := startStorm([]string{gw.URL}, 16, func(i int) load.Target {
		if i%4 == 0 {
			return known
		}
		return load.NewTarget("payments", fmt.Sprintf("wh-%d", i/8))
	})
	s.waitFor(t, 100, time.Time{}, "signals counted with the webhook up", isOK)
	up := suite.Down(t)
	stopped := time.Now()
	s.waitFor(t, 40, stopped, "answers 503 with the webhook down", func(x sent) bool { return x.resp.Code == http.StatusServiceUnavailable })
	s.waitFor(t, 10, stopped, "repeats of the known incident counted with the webhook down", func(x sent) bool {
		return x.target == known && x.resp.OK()
	})
	log := s.halt()

	codes := map[int]int{}
	for _, x := range log {
		codes[x.resp.Code]++
		switch {
		case x.resp.OK():
		case x.resp.Code == http.StatusServiceUnavailable:
			if x.resp.RetryAfter == "" {
				t.Errorf("503 without Retry-After: %v", x.resp.Err)
			}
		default:
			t.Errorf("answer %d (%v), want 2xx or 503", x.resp.Code, x.resp.Err)
		}
	}
	t.Logf("during the storm: answers %v", codes)

	// Writes nothing: an incident none of whose signals was counted has
	// no request at all.
	rrs := &v1alpha1.RemediationRequestList{}
	if err := suite.Client.List(context.Background(), rrs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	stored := map[string]int{}
	for _, rr := range rrs.Items {
		stored[rr.Spec.SignalFingerprint]++
	}
	uncounted := 0
	for fp, n := range counted(log) {
		if n == 0 {
			uncounted++
			if stored[fp] != 0 {
				t.Errorf("incident %s got only 503s, but %d RemediationRequest(s) exist for it", fp[:12], stored[fp])
			}
		}
	}
	if uncounted == 0 {
		t.Fatal("no incident went uncounted during the outage; the test did not exercise it")
	}
	verify(t, ns, first, log)

	// The webhook comes back; the senders send again what got 503.
	up()
	ok, failed := split(log)
	again := resend(t, gw.URL, failed)
	c := verify(t, ns, first, ok, again)
	if int(c.Answered2xx) != len(log)+1 || c.Active != c.Fingerprints {
		t.Errorf("%d signals counted over %d active requests, want all %d over %d incidents", c.Answered2xx, c.Active, len(log)+1, c.Fingerprints)
	}
}

// The API server is restarted in the middle of a storm, on the same etcd.
// The gateway's /readyz goes false while it is down and true again after,
// and the same gateway process counts again without a restart.
func TestAPIServerRestartedMidStormGatewayTurnsUnreadyAndRecoversWithoutRestart(t *testing.T) {
	ns := suite.Namespace(t)
	gw := startGateway(t, ns)
	if !gw.Ready() {
		t.Fatal("gateway not ready before the restart")
	}
	known := load.NewTarget("payments", "known")
	s := startStorm([]string{gw.URL}, 16, func(i int) load.Target {
		if i%2 == 0 {
			return known
		}
		return load.NewTarget("payments", fmt.Sprintf("api-%d", i/16))
	})
	s.waitFor(t, 100, time.Time{}, "signals counted before the restart", isOK)

	// Watch /readyz through the restart.
	var (
		mu     sync.Mutex
		states []bool
	)
	watching, sampled := make(chan struct{}), make(chan struct{})
	var watch sync.WaitGroup
	watch.Go(func() {
		for first := true; ; first = false {
			r := gw.Ready()
			mu.Lock()
			if len(states) == 0 || states[len(states)-1] != r {
				states = append(states, r)
			}
			mu.Unlock()
			if first {
				close(sampled)
			}
			select {
			case <-watching:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	})

	// The first sample is the state before the restart: taken once the
	// watch has started, not whenever its goroutine first runs.
	<-sampled
	restartAPIServer(t)
	restarted := time.Now()
	s.waitFor(t, 100, restarted, "signals counted after the restart", isOK)
	deadline := time.Now().Add(20 * time.Second)
	for !gw.Ready() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	close(watching)
	watch.Wait()
	log := s.halt()

	mu.Lock()
	t.Logf("/readyz went %v", states)
	if len(states) < 3 || !states[0] || states[len(states)-1] != true || !hasFalse(states) {
		t.Errorf("/readyz went %v, want true, then false while the API server was down, then true", states)
	}
	mu.Unlock()
	codes := map[int]int{}
	for _, x := range log {
		codes[x.resp.Code]++
		if !x.resp.OK() && x.resp.Code != http.StatusServiceUnavailable {
			t.Errorf("answer %d (%v), want 2xx or 503", x.resp.Code, x.resp.Err)
		}
	}
	t.Logf("during the storm: answers %v", codes)
	if codes[http.StatusServiceUnavailable] == 0 {
		t.Log("no signal was answered 503: the restart fell between requests")
	}
	verify(t, ns, log)

	ok, failed := split(log)
	again := resend(t, gw.URL, failed)
	c := verify(t, ns, ok, again)
	if int(c.Answered2xx) != len(log) || c.Active != c.Fingerprints {
		t.Errorf("%d signals counted over %d active requests, want all %d over %d incidents", c.Answered2xx, c.Active, len(log), c.Fingerprints)
	}
}

func hasFalse(states []bool) bool {
	for _, s := range states {
		if !s {
			return true
		}
	}
	return false
}

// restartAPIServer restarts kube-apiserver on the same port, etcd and
// certificates.
func restartAPIServer(t *testing.T) {
	t.Helper()
	stop, start, err := suite.RestartAPIServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("API server stopped in %s, started again in %s", stop.Round(time.Millisecond), start.Round(time.Millisecond))
}

// A gateway replica is killed in the middle of a storm spread over three:
// its manager stops (the signal API drains what it has in flight), the
// senders move to the survivors, which carry on; nothing is counted twice,
// and the signals that never reached a gateway are counted once re-sent.
func TestGatewayKilledMidStormSurvivorsCarryOnAndNothingIsDoubleCounted(t *testing.T) {
	ns := suite.Namespace(t)
	gws := []string{}
	var victim = startGateway(t, ns)
	gws = append(gws, victim.URL, startGateway(t, ns).URL, startGateway(t, ns).URL)
	targets := []load.Target{load.NewTarget("payments", "api"), load.NewTarget("payments", "web"), load.NewTarget("payments", "db")}
	s := startStorm(gws, 24, func(i int) load.Target { return targets[i%len(targets)] })
	s.waitFor(t, 150, time.Time{}, "signals counted before the kill", isOK)

	if err := victim.Stop(); err != nil {
		t.Fatalf("stop gateway: %v", err)
	}
	killed := time.Now()
	s.setURLs(gws[1:]...)
	s.waitFor(t, 300, killed, "signals counted by the survivors", isOK)
	log := s.halt()

	codes := map[int]int{}
	for _, x := range log {
		codes[x.resp.Code]++
		if !x.resp.OK() && x.resp.Code != 0 {
			t.Errorf("answer %d (%v), want 2xx, or no answer from the killed gateway", x.resp.Code, x.resp.Err)
		}
	}
	t.Logf("during the storm: answers %v (0: no answer)", codes)
	verify(t, ns, log)

	ok, failed := split(log)
	again := resend(t, gws[1], failed)
	c := verify(t, ns, ok, again)
	if int(c.Answered2xx) != len(log) || c.RemediationRequests != len(targets) || c.Active != len(targets) {
		t.Errorf("%d signals counted over %d requests (%d active), want all %d over %d", c.Answered2xx, c.RemediationRequests, c.Active, len(log), len(targets))
	}
}

// crashAfterClaim is the real admission handler, except that for a request
// named crash-* it fails after the handler decided — after it took the
// claim — as a webhook that dies before answering: the API server fails
// the create closed and the claim stays behind, held by a request that was
// never stored.
func crashAfterClaim(real admission.Handler) admission.Handler {
	return admission.HandlerFunc(func(ctx context.Context, req admission.Request) admission.Response {
		resp := real.Handle(ctx, req)
		if strings.HasPrefix(req.Name, "crash-") && resp.Allowed {
			return admission.Errored(http.StatusInternalServerError, fmt.Errorf("webhook crashed after taking the claim for %s", req.Name))
		}
		return resp
	})
}

// A claim left behind by a crashed admission blocks its fingerprint only
// for the grace period, as the replica observes the claim: the next create
// is told to retry inside it and takes the claim over after it. A claim
// nobody takes over is removed by the janitor, running as it does in the
// webhook, once it has observed the claim marked for the retention period
// (never less than the grace). (webhook/faults_test.go covers the same
// decisions on hand-made claims with a fake clock; here the claims are left
// by real failed creates and the periods pass in real time.)
func TestClaimLeftByACrashedAdmissionIsTakenOverAfterGraceAndSweptAfterRetention(t *testing.T) {
	const grace, retention = 2 * time.Second, time.Second
	ctx := context.Background()
	ns := suite.Namespace(t)
	real, _, err := webhooktest.NewHandler(suite.Env, webhooktest.Options{Webhook: webhook.Options{ClaimGrace: grace}})
	if err != nil {
		t.Fatal(err)
	}
	suite.Replace(t, webhooktest.Options{Handler: crashAfterClaim(real)})

	taken, swept := load.NewTarget("payments", "taken"), load.NewTarget("payments", "swept")
	for _, tg := range []load.Target{taken, swept} {
		err := suite.Client.Create(ctx, testenv.RemediationRequest(ns, "crash-"+tg.Deployment, tg.Fingerprint))
		if err == nil || !strings.Contains(err.Error(), "crashed after taking the claim") {
			t.Fatalf("create crash-%s: %v, want the crash", tg.Deployment, err)
		}
		if l := webhooktest.Claim(t, suite.Client, ns, tg.Fingerprint); l == nil || *l.Spec.HolderIdentity != "crash-"+tg.Deployment {
			t.Fatalf("no claim left behind by crash-%s: %+v", tg.Deployment, l)
		}
	}
	crashed := time.Now()

	// Inside the grace period the claim's holder may still be on its way
	// to storage: the next create is told to retry.
	err = createOnce(ctx, testenv.RemediationRequest(ns, "next-early", taken.Fingerprint))
	if d, ok := dedup.DenialFromError(err); !ok || d.Reason != dedup.ReasonClaimInFlight {
		t.Fatalf("create inside the grace period: %v, want a ClaimInFlight denial", err)
	}
	time.Sleep(time.Until(crashed.Add(grace + 200*time.Millisecond)))
	next := testenv.RemediationRequest(ns, "next", taken.Fingerprint)
	if err := suite.Client.Create(ctx, next); err != nil {
		t.Fatalf("create after the grace period: %v", err)
	}
	if l := webhooktest.Claim(t, suite.Client, ns, taken.Fingerprint); l == nil || *l.Spec.HolderIdentity != "next" || string(next.UID) != l.Annotations[dedup.HolderUIDAnnotation] {
		t.Fatalf("claim after the take-over: %+v, want it held by next (%s)", l, next.UID)
	}
	err = createOnce(ctx, testenv.RemediationRequest(ns, "dup", taken.Fingerprint))
	if d, ok := dedup.DenialFromError(err); !ok || d.Reason != dedup.ReasonDuplicate || d.Holder != "next" {
		t.Fatalf("a second create: %v, want a Duplicate denial naming next", err)
	}

	// The janitor, as the webhook runs it, with a short retention.
	jctx, stop := context.WithCancel(ctx)
	j := &webhook.Janitor{Keeper: webhook.NewKeeper(suite.Client, suite.Client, webhook.Options{ClaimGrace: grace, ClaimRetention: retention}),
		Namespace: ns, Interval: 200 * time.Millisecond, Log: logr.Discard()}
	var wg sync.WaitGroup
	wg.Go(func() { _ = j.Start(jctx) })
	defer func() { stop(); wg.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for webhooktest.Claim(t, suite.Client, ns, swept.Fingerprint) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the janitor left the claim of the crashed crash-swept for 15s with a %s retention and a %s grace", retention, grace)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("claim of crash-swept removed %s after the crash", time.Since(crashed).Round(100*time.Millisecond))
	if l := webhooktest.Claim(t, suite.Client, ns, taken.Fingerprint); l == nil || *l.Spec.HolderIdentity != "next" {
		t.Errorf("the janitor touched the claim of the active next: %+v", l)
	}

	// With its claim gone, the fingerprint is decided by the List again.
	again := testenv.RemediationRequest(ns, "swept-again", swept.Fingerprint)
	if err := suite.Client.Create(ctx, again); err != nil {
		t.Fatalf("create after the sweep: %v", err)
	}
	if l := webhooktest.Claim(t, suite.Client, ns, swept.Fingerprint); l == nil || *l.Spec.HolderIdentity != "swept-again" {
		t.Errorf("claim after the sweep: %+v, want it rebuilt for swept-again", l)
	}
	for _, fp := range []string{taken.Fingerprint, swept.Fingerprint} {
		rrs, err := dedup.ListByFingerprint(ctx, suite.Client, ns, fp)
		if err != nil {
			t.Fatal(err)
		}
		if len(rrs) != 1 {
			t.Errorf("%d requests for %s, want 1", len(rrs), fp[:12])
		}
	}
}

// createOnce creates rr without client-go's retry of a 429 with
// Retry-After, so the test sees the admission answer as given.
func createOnce(ctx context.Context, rr *v1alpha1.RemediationRequest) error {
	c, err := suite.OnceClient()
	if err != nil {
		return err
	}
	return c.Create(ctx, rr, false)
}
