package gateway_test

import (
	"context"
	"net/http"
	"sort"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/gateway/httpapi"
	"github.com/rrguard/rrguard/test/baseline"
	"github.com/rrguard/rrguard/test/gatewaytest"
	"github.com/rrguard/rrguard/test/testenv"
)

const tortureSignals = 600

// hammer posts n copies of body at once, spread round-robin over urls, and
// returns every response.
func hammer(t testing.TB, urls []string, n int, body []byte) []response {
	t.Helper()
	responses := make([]response, n)
	errs := make([]error, n)
	testenv.AtOnce(n, func(i int) {
		responses[i], errs[i] = post(urls[i%len(urls)], httpapi.PrometheusPath, "application/json", body)
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	return responses
}

// Three gateways — three managers, three sets of clients and connections —
// and the webhook, on one API server: 600 identical alerts at once make one
// request that counts every one of them exactly once.
func TestTortureThreeGatewaysSixHundredIdenticalAlertsMakeOneRequestCountingEach(t *testing.T) {
	ns := env.Namespace(t)
	urls := []string{startGateway(t, ns).URL, startGateway(t, ns).URL, startGateway(t, ns).URL}
	fp := fingerprintOf("payments", "api")

	body := alertmanagerPayload(alert("payments", "api"))
	responses := hammer(t, urls, tortureSignals, body)
	// A signal answered 503/504 was not counted, and its sender retries it
	// (Alertmanager does): on an overloaded machine the webhook or the API
	// server can time out under this storm. Re-send those, as a sender
	// would, until each is answered 2xx; if a 5xx signal had been counted
	// after all, occurrenceCount below exceeds the 2xx answers.
	retried := 0
	for round := 0; round < 5; round++ {
		var again []int
		for i, r := range responses {
			if r.Code == http.StatusServiceUnavailable || r.Code == http.StatusGatewayTimeout {
				again = append(again, i)
			}
		}
		if len(again) == 0 {
			break
		}
		retried += len(again)
		time.Sleep(time.Second)
		for _, i := range again {
			r, err := post(urls[i%len(urls)], httpapi.PrometheusPath, "application/json", body)
			if err != nil {
				t.Fatalf("re-send %d: %v", i, err)
			}
			responses[i] = r
		}
	}

	codes := map[int]int{}
	occurrences := make([]int64, 0, tortureSignals)
	names := map[string]int{}
	for _, r := range responses {
		codes[r.Code]++
		if r.Code != http.StatusCreated && r.Code != http.StatusAccepted {
			t.Errorf("response %d %s, want 201 or 202", r.Code, r.Body)
			continue
		}
		s := r.signal(t)
		names[s.RemediationRequest.Name]++
		occurrences = append(occurrences, s.OccurrenceCount)
	}
	stored, err := dedup.ListByFingerprint(context.Background(), env.Client, ns, fp)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("status codes %v after %d re-sends of 503/504 answers; requests stored %d", codes, retried, len(stored))
	if len(stored) != 1 {
		t.Fatalf("%d RemediationRequests for one incident, want exactly 1", len(stored))
	}
	counted := codes[http.StatusCreated] + codes[http.StatusAccepted]
	if counted != tortureSignals || codes[http.StatusCreated] != 1 {
		t.Errorf("%d answered 201/202 (%d created), want all %d with one created", counted, codes[http.StatusCreated], tortureSignals)
	}
	if got := stored[0].Status.GetDeduplication().OccurrenceCount; got != int32(counted) {
		t.Errorf("occurrenceCount = %d, but %d signals were answered 201/202", got, counted)
	}
	if len(names) != 1 || names[stored[0].Name] != counted {
		t.Errorf("responses name %v, want every one naming %s", names, stored[0].Name)
	}
	// Exactly once, signal by signal: the occurrence numbers the
	// responses carry are 1..600, each once.
	sort.Slice(occurrences, func(i, j int) bool { return occurrences[i] < occurrences[j] })
	for i, o := range occurrences {
		if o != int64(i+1) {
			t.Fatalf("occurrence numbers are not 1..%d each once: position %d holds %d", len(occurrences), i, o)
		}
	}
}

// The same load on the usual fix — per signal, an uncached List, then a
// create or a conflict-retried status update — in a namespace the webhook
// does not guard: it makes duplicates. This is what the test above guards
// against; if this ever stops failing, the load above proves nothing.
func TestNaiveCheckThenCreateUnderTheSameLoadMakesDuplicates(t *testing.T) {
	ns := unguardedNamespace(t)
	urls := make([]string, 3)
	for i := range urls {
		urls[i] = startNaiveGateway(t, ns)
	}
	fp := fingerprintOf("payments", "api")

	responses := hammer(t, urls, tortureSignals, alertmanagerPayload(alert("payments", "api")))

	codes := map[int]int{}
	for _, r := range responses {
		codes[r.Code]++
	}
	stored, err := dedup.ListByFingerprint(context.Background(), env.Client, ns, fp)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, rr := range stored {
		sum += int64(rr.Status.GetDeduplication().OccurrenceCount)
	}
	t.Logf("naive: status codes %v; %d requests for one incident, counting %d in total", codes, len(stored), sum)
	if len(stored) <= 1 {
		t.Fatalf("the naive variant made %d request(s) under the torture load; the load no longer shows the race", len(stored))
	}
}

// startNaiveGateway serves the signal API over baseline.Counter, with its own
// client and connections.
func startNaiveGateway(t testing.TB, ns string) string {
	t.Helper()
	c, err := client.New(rest.CopyConfig(env.Config), client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return gatewaytest.ServeCounter(t, &baseline.Counter{Client: c, Namespace: ns, Targets: gatewaytest.Targets(t, env.Config, c)})
}
