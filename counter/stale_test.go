package counter

import (
	"context"
	"testing"

	"github.com/rrguard/rrguard/test/testenv"
)

// uncachedEnv starts a control plane of its own whose API server serves
// RemediationRequest watches from etcd rather than from its watch cache, so
// that a compaction takes a resourceVersion out of reach at once: in a
// cluster, a version leaves the watch cache after some minutes of events,
// and etcd's history at the next compaction (every 5 minutes).
func uncachedEnv(t *testing.T) *testenv.Env {
	t.Helper()
	e, err := testenv.Start(testenv.Options{APIServerFlags: map[string]string{
		"watch-cache-sizes": "remediationrequests.kubernaut.ai#0",
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("stop the control plane: %v", err)
		}
	})
	return e
}

// Two replicas count one fingerprint's signals in turn, with etcd compacted
// after every turn: at each turn a replica's remembered request is stale
// (the other counted since) and the version it remembers is compacted. The
// write conditioned on it is refused with a Conflict; that refusal must
// send the replica back to a read, not to a watch from a version that no
// longer exists, which would fail the signal, and every resend of it.
func TestReplicasCountingInTurnAcrossCompactionsLoseNoSignal(t *testing.T) {
	e := uncachedEnv(t)
	ns := e.Namespace(t)
	// Each replica reads and writes straight to the API server, over
	// connections of its own, its sends counted.
	a, ma := newCounter(t, e, Options{}, CountSends)
	b, mb := newCounter(t, e, Options{}, CountSends)
	key := stored(t, e, ns, "web")
	s := &sender{t: t}
	const signals = 8
	for i := range signals {
		k := a
		if i%2 == 1 {
			k = b
		}
		s.send(k, key)
		if err := e.CompactEtcd(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := storedCount(t, e, key); got != signals {
		t.Fatalf("stored count %d, want %d", got, signals)
	}
	if s.answered.Load() != signals {
		t.Errorf("%d signals answered as counted, want %d", s.answered.Load(), signals)
	}
	for name, m := range map[string]*Metrics{"a": ma, "b": mb} {
		if v := settledValue(m, "unknown"); v != 0 {
			t.Errorf("replica %s: settled{unknown} = %v, want 0", name, v)
		}
	}
}
