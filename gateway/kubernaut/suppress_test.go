package kubernaut_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/test/gatewaytest"
	"github.com/rrguard/rrguard/test/load"
)

// kubernaut's suppression rules, each with both sides of its window: the
// orchestrator ends the first request for a fingerprint with the given
// status, then a repeat reaches the replica that created the request (which
// remembers it at an older version) and a replica that never saw the
// fingerprint (which looks it up). Where the request suppresses, both are
// counted on it (202 naming it); where it does not, the first repeat
// creates a new request (201) and the second is counted there.
func TestSuppressionRules(t *testing.T) {
	cases := map[string]struct {
		status     map[string]any
		suppressed bool
	}{
		"active": {
			status: map[string]any{"overallPhase": "Processing"}, suppressed: true,
		},
		"completed and remediated": {
			status: map[string]any{"overallPhase": "Completed", "completionStatus": map[string]any{"outcome": "Remediated"}},
		},
		"completed for manual review": {
			status:     map[string]any{"overallPhase": "Completed", "completionStatus": map[string]any{"outcome": "ManualReviewRequired"}},
			suppressed: true,
		},
		"failed for manual review": {
			status:     map[string]any{"overallPhase": "Failed", "completionStatus": map[string]any{"outcome": "ManualReviewRequired", "requiresManualReview": true}},
			suppressed: true,
		},
		"failed with its backoff window open": {
			status:     map[string]any{"overallPhase": "Failed", "routingStatus": map[string]any{"nextAllowedExecution": stamp(time.Now().Add(time.Hour))}},
			suppressed: true,
		},
		"failed with its backoff window passed": {
			status: map[string]any{"overallPhase": "Failed", "routingStatus": map[string]any{"nextAllowedExecution": stamp(time.Now().Add(-time.Minute))}},
		},
		"timed out with its backoff window open": {
			status:     map[string]any{"overallPhase": "TimedOut", "routingStatus": map[string]any{"nextAllowedExecution": stamp(time.Now().Add(time.Hour))}},
			suppressed: true,
		},
		"cancelled": {
			status: map[string]any{"overallPhase": "Cancelled", "completionStatus": map[string]any{"outcome": "NoActionRequired"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ns := env.Namespace(t)
			knows, fresh := startGateway(t, ns), startGateway(t, ns)
			target := load.NewTarget("payments", "api")
			first := mustSend(t, knows.URL, target, http.StatusCreated).Counted
			orchestrate(t, ns, first, tc.status)

			holder, wantCount := first, int64(3)
			if !tc.suppressed {
				holder = mustSend(t, knows.URL, target, http.StatusCreated).Counted
				wantCount = 1
			} else {
				mustSend(t, knows.URL, target, http.StatusAccepted)
			}
			if r := mustSend(t, fresh.URL, target, http.StatusAccepted); r.Counted != holder {
				t.Errorf("the replica new to the fingerprint counted on %s, want %s", r.Counted, holder)
			}
			if got := occurrences(t, ns, first); got != wantCount {
				t.Errorf("the first request counts %d, want %d", got, wantCount)
			}
		})
	}
}

// Both windows close: once the backoff window passes, or the orchestrator
// lifts the manual review, the next repeat creates a new request — also on
// a replica that counted on the suppressing request and remembers it.
func TestASuppressionEndsWithItsWindow(t *testing.T) {
	t.Run("backoff", func(t *testing.T) {
		ns := env.Namespace(t)
		gw := startGateway(t, ns)
		target := load.NewTarget("payments", "api")
		first := mustSend(t, gw.URL, target, http.StatusCreated).Counted
		until := time.Now().Add(3 * time.Second).Truncate(time.Second)
		orchestrate(t, ns, first, map[string]any{"overallPhase": "Failed", "routingStatus": map[string]any{"nextAllowedExecution": stamp(until)}})

		if r := mustSend(t, gw.URL, target, http.StatusAccepted); r.Counted != first {
			t.Fatalf("inside the window: counted on %s, want %s", r.Counted, first)
		}
		time.Sleep(time.Until(until) + 100*time.Millisecond)
		if r := mustSend(t, gw.URL, target, http.StatusCreated); r.Counted == first {
			t.Fatalf("after the window: counted on %s again, want a new request", first)
		}
	})
	t.Run("manual review", func(t *testing.T) {
		ns := env.Namespace(t)
		gw := startGateway(t, ns)
		target := load.NewTarget("payments", "api")
		first := mustSend(t, gw.URL, target, http.StatusCreated).Counted
		orchestrate(t, ns, first, map[string]any{"overallPhase": "Completed", "completionStatus": map[string]any{"outcome": "ManualReviewRequired"}})
		if r := mustSend(t, gw.URL, target, http.StatusAccepted); r.Counted != first {
			t.Fatalf("under review: counted on %s, want %s", r.Counted, first)
		}
		// A human acts: the outcome no longer asks for review.
		orchestrate(t, ns, first, map[string]any{"completionStatus": map[string]any{"outcome": "Remediated"}})
		if r := mustSend(t, gw.URL, target, http.StatusCreated); r.Counted == first {
			t.Fatalf("after the review: counted on %s again, want a new request", first)
		}
	})
}

// Suppression is the gateway's rule, not the webhook's: a client that
// creates a request while the last one is suppressing is admitted, as the
// webhook's contract (one non-terminal request per fingerprint) says.
func TestTheWebhookAdmitsACreateBesideASuppressingRequest(t *testing.T) {
	ns := env.Namespace(t)
	gw := startGateway(t, ns)
	target := load.NewTarget("payments", "api")
	first := mustSend(t, gw.URL, target, http.StatusCreated).Counted
	orchestrate(t, ns, first, map[string]any{"overallPhase": "Failed", "completionStatus": map[string]any{"outcome": "ManualReviewRequired"}})

	if err := createByHand(ns, "created-by-hand", target); err != nil {
		t.Fatalf("create beside a suppressing request: %v; the webhook must admit it", err)
	}
}

// createByHand creates a request about target as a client other than the
// gateway does (kubernaut's API frontend, a person).
func createByHand(ns, name string, target load.Target) error {
	now := metav1.Now()
	rr := &v1alpha1.RemediationRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.RemediationRequestSpec{
			SignalFingerprint: target.Fingerprint, SignalName: "Manual", Severity: "critical", SignalType: "alert", TargetType: "kubernetes",
			TargetResource: v1alpha1.ResourceIdentifier{Kind: "Deployment", Namespace: target.Namespace, Name: target.Deployment},
			FiringTime:     now, ReceivedTime: now,
		},
	}
	return env.Client.Create(context.Background(), rr)
}

// Any ended request of the fingerprint suppresses, not only the latest: the
// first request ended for review or in backoff, and a second, created
// beside it by hand (as kubernaut's API frontend or any client may, and the
// webhook admits), ended well. A repeat is counted on the first request —
// by the replica that created it, by a replica new to the fingerprint, and
// by one without the webhook, whose claim names the second.
func TestAnOlderEndedRequestSuppresses(t *testing.T) {
	cases := map[string]map[string]any{
		"for manual review": {"overallPhase": "Failed", "completionStatus": map[string]any{"outcome": "ManualReviewRequired"}},
		"in backoff":        {"overallPhase": "Failed", "routingStatus": map[string]any{"nextAllowedExecution": stamp(time.Now().Add(time.Hour))}},
	}
	for name, hold := range cases {
		t.Run(name, func(t *testing.T) {
			ns := env.Namespace(t)
			knows, fresh := startGateway(t, ns), startGateway(t, ns)
			unguarded := gatewaytest.StartForTest(t, gatewaytest.Options{Config: env.Config, Scheme: env.Scheme, Namespace: ns})
			target := load.NewTarget("payments", "api")
			first := mustSend(t, knows.URL, target, http.StatusCreated).Counted
			orchestrate(t, ns, first, hold)
			if err := createByHand(ns, "second", target); err != nil {
				t.Fatal(err)
			}
			orchestrate(t, ns, "second", map[string]any{"overallPhase": "Completed", "completionStatus": map[string]any{"outcome": "Remediated"}})

			for replica, url := range map[string]string{"that created the first": knows.URL, "new to the fingerprint": fresh.URL, "without the webhook": unguarded.URL} {
				if r := mustSend(t, url, target, http.StatusAccepted); r.Counted != first {
					t.Errorf("the replica %s counted on %s, want the first, %s", replica, r.Counted, first)
				}
			}
			if got := occurrences(t, ns, first); got != 4 {
				t.Errorf("the first request counts %d, want 4", got)
			}
		})
	}
}
