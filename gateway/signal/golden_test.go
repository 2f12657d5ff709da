package signal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/test/golden"
)

// goldenItem is what the gateway makes of one alert or event of a fixture.
type goldenItem struct {
	Index     int                          `json:"index"`
	AlertName string                       `json:"alertname,omitempty"`
	Ignored   string                       `json:"ignored,omitempty"`
	Error     string                       `json:"error,omitempty"`
	Request   *v1alpha1.RemediationRequest `json:"remediationRequest,omitempty"`
}

// goldenReceived is when the golden requests were received.
var goldenReceived = time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC)

// asReceived stands in a golden file for an originalPayload that the test
// has checked is the fixture byte for byte.
const asReceived = "(the fixture, byte for byte)"

// The request built from each captured payload, as a golden file: what a
// user finds in the cluster for what a sender posted.
func TestGoldenRequests(t *testing.T) {
	fixtures, err := filepath.Glob("testdata/*.json")
	if err != nil || len(fixtures) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, fixture := range fixtures {
		t.Run(filepath.Base(fixture), func(t *testing.T) {
			body, err := os.ReadFile(fixture)
			if err != nil {
				t.Fatal(err)
			}
			var items []goldenItem
			for i, it := range parseFixture(t, fixture, body) {
				items = append(items, goldenOf(t, i, it, body))
			}
			got, err := yaml.Marshal(items)
			if err != nil {
				t.Fatal(err)
			}
			golden.Compare(t, filepath.Join("testdata", "golden", strings.TrimSuffix(filepath.Base(fixture), ".json")+".yaml"), got)
		})
	}
}

func parseFixture(t *testing.T, fixture string, body []byte) []Item {
	t.Helper()
	if strings.HasPrefix(filepath.Base(fixture), "event-") {
		it, err := parseKubernetesEvent(body)
		if err != nil {
			t.Fatal(err)
		}
		return []Item{it}
	}
	am, err := parseAlertmanager(body)
	if err != nil {
		t.Fatal(err)
	}
	return am.Items
}

func goldenOf(t *testing.T, i int, it Item, body []byte) goldenItem {
	t.Helper()
	g := goldenItem{Index: i, AlertName: it.AlertName, Ignored: it.Ignored}
	switch {
	case it.Err != nil:
		g.Error = it.Err.Error()
	case it.Signal != nil:
		fp, err := it.Signal.Fingerprint()
		if err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
		g.Request = NewRemediationRequest("kubernaut-system", fp, it.Signal, goldenReceived)
		if g.Request.Spec.OriginalPayload != string(body) {
			t.Fatalf("item %d: originalPayload is not the fixture as received", i)
		}
		g.Request.Spec.OriginalPayload = asReceived
	}
	return g
}
