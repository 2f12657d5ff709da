package kubernaut_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/test/load"
)

// orchestratorStatus is what kubernaut's orchestrator has written on a
// request by the time repeats arrive, step i of it: fields rrguard's types
// declare (overallPhase, part of completionStatus and routingStatus) and
// many they do not.
func orchestratorStatus(i int, started time.Time) map[string]any {
	return map[string]any{
		"overallPhase":       "Processing",
		"message":            fmt.Sprintf("step %d: enriching the signal with the target's context", i),
		"startTime":          stamp(started),
		"observedGeneration": 1,
		"conditions": []any{
			map[string]any{"type": "SignalProcessingReady", "status": "True", "reason": "Enriched", "message": fmt.Sprintf("step %d", i), "lastTransitionTime": stamp(started)},
			map[string]any{"type": "NotificationDelivered", "status": "False", "reason": "Pending", "message": "", "lastTransitionTime": stamp(started)},
		},
		"routingStatus": map[string]any{
			"blockReason": "ConsecutiveFailures", "blockMessage": "two failures in a row", "consecutiveFailureCount": 2,
			"duplicateRefs": []any{"rr-older-1", "rr-older-2"},
		},
		"completionStatus": map[string]any{"notificationStatus": "Pending", "requiresManualReview": false},
		"timeoutConfig":    map[string]any{"global": "1h0m0s", "processing": "5m0s"},
	}
}

// Repeats arrive at two gateway replicas while the orchestrator keeps
// writing its status fields, and more after its last write: every repeat
// answered 2xx is counted once, and every field the orchestrator wrote is,
// at the end, what it last wrote, byte for byte.
func TestRepeatsAreCountedExactlyAndEveryOrchestratorFieldSurvives(t *testing.T) {
	ns := env.Namespace(t)
	a, b := startGateway(t, ns), startGateway(t, ns)
	target := load.NewTarget("payments", "api")
	rr := mustSend(t, a.URL, target, 201).Counted
	started := time.Now()
	last := orchestrate(t, ns, rr, orchestratorStatus(0, started))

	const repeats, steps, after = 48, 12, 8
	var mu sync.Mutex
	answers := map[int]int{}
	var wg sync.WaitGroup
	repeat := func(i int) {
		r := send(t, []string{a.URL, b.URL}[i%2], target)
		mu.Lock()
		defer mu.Unlock()
		answers[r.Code]++
		if r.OK() && r.Counted != rr {
			t.Errorf("repeat counted on %s, want %s", r.Counted, rr)
		}
	}
	for i := range repeats {
		wg.Go(func() { repeat(i) })
	}
	// The orchestrator moves on meanwhile: its writes conflict with the
	// gateway's, and the gateway's with its.
	for i := 1; i <= steps; i++ {
		last = orchestrate(t, ns, rr, orchestratorStatus(i, started))
	}
	wg.Wait()
	// And the incident keeps firing after the orchestrator's last write.
	for i := range after {
		repeat(i)
	}

	if answers[202] != repeats+after {
		t.Errorf("answers %v, want all %d repeats 202", answers, repeats+after)
	}
	if got, want := occurrences(t, ns, rr), int64(1+answers[202]); got != want {
		t.Errorf("occurrenceCount = %d, want %d (the first signal and every 2xx repeat)", got, want)
	}
	if got, want := withoutDeduplication(t, status(t, ns, rr)), withoutDeduplication(t, last); got != want {
		t.Errorf("the orchestrator's status changed under the gateway's counts:\n got %s\nwant %s", got, want)
	}
}

// Why the gateway patches status.deduplication alone: writing back the
// status as rrguard's types decode it, as a status update does, erases
// every field they do not declare.
func TestAStatusUpdateOfRrguardsTypeErasesTheOrchestratorsFields(t *testing.T) {
	ns := env.Namespace(t)
	gw := startGateway(t, ns)
	rr := mustSend(t, gw.URL, load.NewTarget("payments", "api"), 201).Counted
	before := orchestrate(t, ns, rr, orchestratorStatus(0, time.Now()))

	ctx := context.Background()
	typed := &v1alpha1.RemediationRequest{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: rr}, typed); err != nil {
		t.Fatal(err)
	}
	typed.Status.EnsureDeduplication().OccurrenceCount++
	if err := env.Client.Status().Update(ctx, typed); err != nil {
		t.Fatal(err)
	}
	after := status(t, ns, rr)
	for _, field := range []string{"message", "startTime", "conditions", "timeoutConfig", "observedGeneration"} {
		if _, ok := after[field]; ok {
			t.Errorf("status.%s survived a status update of rrguard's type; the naive write was expected to erase it", field)
		}
	}
	if withoutDeduplication(t, after) == withoutDeduplication(t, before) {
		t.Error("the naive write changed nothing; this test no longer shows what the patch guards against")
	}
}
