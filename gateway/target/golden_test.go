package target

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/gateway/signal"
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

// signalTestdata holds the payloads package signal's tests capture.
var signalTestdata = filepath.Join("..", "signal", "testdata")

// The request built from each payload package signal captured, its object
// named on the seeded cluster, as a golden file beside the payloads: what
// a user finds in the cluster for what a sender posted.
func TestGoldenRequests(t *testing.T) {
	r := newTestResolver(t)
	fixtures, err := filepath.Glob(filepath.Join(signalTestdata, "*.json"))
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
				items = append(items, goldenOf(t, r, i, it, body))
			}
			got, err := yaml.Marshal(items)
			if err != nil {
				t.Fatal(err)
			}
			golden.Compare(t, filepath.Join(signalTestdata, "golden", strings.TrimSuffix(filepath.Base(fixture), ".json")+".yaml"), got)
		})
	}
}

func parseFixture(t *testing.T, fixture string, body []byte) []signal.Item {
	t.Helper()
	if strings.HasPrefix(filepath.Base(fixture), "event-") {
		it, err := signal.Parser{}.KubernetesEvent(body)
		if err != nil {
			t.Fatal(err)
		}
		return []signal.Item{it}
	}
	am, err := signal.Parser{}.Alertmanager(body)
	if err != nil {
		t.Fatal(err)
	}
	return am.Items
}

func goldenOf(t *testing.T, r *Resolver, i int, it signal.Item, body []byte) goldenItem {
	t.Helper()
	g := goldenItem{Index: i, AlertName: it.AlertName, Ignored: it.Ignored}
	switch {
	case it.Err != nil:
		g.Error = it.Err.Error()
	case it.Signal != nil:
		res, err := r.Resolve(context.Background(), it.Signal)
		if err != nil {
			t.Fatalf("item %d: resolve: %v", i, err)
		}
		if res.Ignored != "" {
			g.Ignored = res.Ignored
			return g
		}
		it.Signal.Target = res.Target
		fp, err := it.Signal.Fingerprint()
		if err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
		g.Request = signal.NewRemediationRequest("kubernaut-system", fp, it.Signal, goldenReceived)
		if g.Request.Spec.OriginalPayload != string(body) {
			t.Fatalf("item %d: originalPayload is not the fixture as received", i)
		}
		g.Request.Spec.OriginalPayload = asReceived
	}
	return g
}
