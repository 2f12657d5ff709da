package webhook_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
)

// The suite's control plane calls the webhook over TLS at envtest's
// registered localhost port, where the suite's proxy listens and forwards
// to whichever webhook servers a test puts behind it: one real server by
// default.
var (
	suite  = &webhooktest.Suite{Proxied: true}
	env    *testenv.Env
	rrREST *testenv.OnceClient
)

func TestMain(m *testing.M) {
	flag.Parse()
	if fuzzing() {
		// The fuzz targets are unit-level; their workers need no control plane.
		os.Exit(m.Run())
	}
	suite.Main(m, func(s *webhooktest.Suite) (err error) {
		env = s.Env
		rrREST, err = env.OnceClient()
		return err
	})
}

// fuzzing reports whether this process runs a fuzz target (as the
// coordinator or one of its workers).
func fuzzing() bool {
	for _, name := range []string{"test.fuzz", "test.fuzzworker"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != "false" {
			return true
		}
	}
	return false
}

// create creates rr once, without client-side retries.
func create(ctx context.Context, rr *v1alpha1.RemediationRequest, dryRun bool) error {
	return rrREST.Create(ctx, rr, dryRun)
}

// updatePhase writes rr's status with phase p once, without client-side
// retries: a move back to an active phase goes through the webhook.
func updatePhase(rr *v1alpha1.RemediationRequest, p v1alpha1.Phase) error {
	rr.Status.OverallPhase = p
	return rrREST.UpdateStatus(context.Background(), rr)
}

var fpSeq int

// newFingerprint returns a fingerprint no other test uses.
func newFingerprint(t testing.TB) string {
	t.Helper()
	fpSeq++
	fp, err := dedup.Fingerprint(dedup.Target{Namespace: "bench", Kind: "Deployment", Name: fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), fpSeq)})
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// auditLine is one line of the audit log, decoded.
type auditLine struct {
	Logger         string   `json:"logger"`
	Msg            string   `json:"msg"`
	RequestUID     string   `json:"requestUID"`
	Operation      string   `json:"operation"`
	Subresource    string   `json:"subresource"`
	DryRun         bool     `json:"dryRun"`
	User           string   `json:"user"`
	Groups         []string `json:"groups"`
	Namespace      string   `json:"namespace"`
	Name           string   `json:"name"`
	ObjectUID      string   `json:"objectUID"`
	Fingerprint    string   `json:"fingerprint"`
	Decision       string   `json:"decision"`
	Reason         string   `json:"reason"`
	Holder         string   `json:"holder"`
	ClaimAction    string   `json:"claimAction"`
	Coalesced      *bool    `json:"coalesced"`
	LatencySeconds *float64 `json:"latencySeconds"`
	Message        string   `json:"message"`
	Count          string   `json:"count"`
	OccurrenceCnt  int64    `json:"occurrenceCount"`
	CountError     string   `json:"countError"`
}

// auditLines decodes s's audit log, failing on any line that is not JSON
// from the audit logger.
func auditLines(t testing.TB, s *webhooktest.Server) []auditLine {
	t.Helper()
	return parseAudit(t, s.AuditLog())
}

// parseAudit decodes an audit log, failing on any line that is not JSON.
func parseAudit(t testing.TB, log []byte) []auditLine {
	t.Helper()
	var out []auditLine
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l auditLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("audit line is not JSON: %q: %v", sc.Text(), err)
		}
		if l.Logger != "audit" {
			continue
		}
		out = append(out, l)
	}
	return out
}

// auditFor returns the audit lines about object name in namespace ns.
func auditFor(t testing.TB, s *webhooktest.Server, ns, name string) []auditLine {
	t.Helper()
	var out []auditLine
	for _, l := range auditLines(t, s) {
		if l.Namespace == ns && l.Name == name {
			out = append(out, l)
		}
	}
	return out
}
