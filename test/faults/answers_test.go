package faults_test

import (
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/rrguard/rrguard/test/gatewaytest"
	"github.com/rrguard/rrguard/test/load"
	"github.com/rrguard/rrguard/test/testenv"
)

// startFaultyGateway starts a webhook-guarded gateway in ns whose API
// requests go through f.
func startFaultyGateway(t *testing.T, ns string, f *testenv.FaultyWrites, requestTimeout, callTimeout time.Duration) *gatewaytest.Instance {
	t.Helper()
	cfg := rest.CopyConfig(suite.Config)
	cfg.Wrap(f.Wrap)
	return gatewaytest.StartForTest(t, gatewaytest.Options{
		Config: cfg, Scheme: suite.Scheme, Namespace: ns, WebhookGuarded: true,
		RequestTimeout: requestTimeout, CallTimeout: callTimeout,
	})
}

// A third of the status writes of two gateway replicas land with their
// answer lost on the way back — cut, a 504, a 500 with Retry-After that
// client-go answers by sending the write again (a Conflict), a 504 before
// the write lands — or never reach the server, while a storm of repeats
// hits three incidents. Every signal answered 2xx is counted exactly once,
// and so is every other one once re-sent. The resend is client-go's own,
// above the gateway's send counter as in the binary; testenv.SentTwice
// resends below it, which nothing in the binary does (the pipeline's
// TestAConflictToAResendTakenForARefusalCountsTwice shows what that does).
func TestAStormWhoseStatusWriteAnswersAreLostIsCountedExactly(t *testing.T) {
	ns := suite.Namespace(t)
	kinds := []testenv.WriteFault{testenv.AnswerLost, testenv.AnswerTimeout, testenv.ResentByClient, testenv.LandsAfterTimeout, testenv.NotSent}
	f := &testenv.FaultyWrites{Fault: func(n int64) testenv.WriteFault {
		if n%3 != 0 {
			return testenv.Untouched
		}
		return kinds[(n/3)%int64(len(kinds))]
	}}
	gws := []string{startFaultyGateway(t, ns, f, 0, 0).URL, startFaultyGateway(t, ns, f, 0, 0).URL}
	log := stormOnThree(t, gws, 16, 240)
	verify(t, ns, log)
	ok, failed := split(log)
	verify(t, ns, ok, resend(t, gws[0], failed))
}

// Every API answer comes just inside the call timeout. Each signal is
// answered, counted or not, before the signal API's write timeout cuts it
// off, and the count is exactly the 2xx answers.
func TestAStormOnAnAPIServerAnsweringJustInsideTheCallTimeoutIsCountedExactly(t *testing.T) {
	ns := suite.Namespace(t)
	const request, call = time.Second, 400 * time.Millisecond
	f := &testenv.FaultyWrites{Delay: call * 8 / 10}
	gws := []string{startFaultyGateway(t, ns, f, request, call).URL, startFaultyGateway(t, ns, f, request, call).URL}
	log := stormOnThree(t, gws, 12, 60)
	for _, x := range log {
		if x.resp.Code == 0 {
			t.Errorf("a signal got no answer: %v", x.resp.Err)
		}
	}
	verify(t, ns, log)
}

// stormOnThree sends signals about three incidents from workers goroutines
// to gws until counted of them were answered 2xx, and returns every answer.
func stormOnThree(t *testing.T, gws []string, workers, counted int) []sent {
	t.Helper()
	targets := []load.Target{load.NewTarget("payments", "api"), load.NewTarget("payments", "web"), load.NewTarget("payments", "db")}
	s := startStorm(gws, workers, func(i int) load.Target { return targets[i%len(targets)] })
	s.waitFor(t, counted, time.Time{}, "signals counted", isOK)
	log := s.halt()
	codes := map[int]int{}
	for _, x := range log {
		codes[x.resp.Code]++
	}
	t.Logf("answers %v", codes)
	return log
}
