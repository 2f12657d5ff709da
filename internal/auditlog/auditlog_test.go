package auditlog_test

import (
	"testing"

	"github.com/go-logr/logr"
	ctrlzap "sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/rrguard/rrguard/internal/auditlog"
	"github.com/rrguard/rrguard/test/testenv"
)

// burst writes n records with one message at once, as a burst of admissions
// does, and returns how many lines came out.
func burst(t *testing.T, log logr.Logger, buf *testenv.Buffer, n int) []map[string]any {
	t.Helper()
	for i := range n {
		log.Info("admission decision", "seq", i)
	}
	return buf.JSONLines(t)
}

func TestEveryRecordOfABurstIsWritten(t *testing.T) {
	const n = 5000
	buf := &testenv.Buffer{}
	lines := burst(t, auditlog.New(buf), buf, n)
	if len(lines) != n {
		t.Fatalf("%d lines for %d records", len(lines), n)
	}
	for i, l := range lines {
		if l["logger"] != "audit" || l["msg"] != "admission decision" || l["level"] != "info" || l["ts"] == nil {
			t.Fatalf("line %d = %v, want logger audit, msg, level info, ts", i, l)
		}
		if seq, _ := l["seq"].(float64); int(seq) != i {
			t.Fatalf("line %d carries seq %v: lines lost or reordered", i, l["seq"])
		}
	}
}

// TestTheOperationalLoggerWouldDropAuditLines shows what the test above
// guards against: controller-runtime's production logger, which the binaries
// build for their operational logs, drops most of the same burst.
func TestTheOperationalLoggerWouldDropAuditLines(t *testing.T) {
	const n = 5000
	buf := &testenv.Buffer{}
	log := ctrlzap.New(ctrlzap.WriteTo(buf), ctrlzap.JSONEncoder()).WithName("audit")
	lines := burst(t, log, buf, n)
	if len(lines) >= n {
		t.Fatalf("%d of %d lines written: the operational logger no longer samples, and auditlog may not be needed", len(lines), n)
	}
	t.Logf("controller-runtime's production logger wrote %d of %d lines of one burst", len(lines), n)
}
