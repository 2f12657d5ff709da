package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/rrguard/rrguard/gateway/pipeline"
	"github.com/rrguard/rrguard/gateway/signal"
	"github.com/rrguard/rrguard/test/golden"
)

// firstCreates is script, with the first signal of each fingerprint
// created, on a request named for the fingerprint, as the pipeline answers.
func firstCreates() counterFunc {
	scripted := script()
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(sig *signal.Signal, fp string) (pipeline.Result, error) {
		res, err := scripted(sig, fp)
		if err != nil {
			return res, err
		}
		mu.Lock()
		defer mu.Unlock()
		if !seen[fp] {
			seen[fp], res.Outcome = true, pipeline.OutcomeCreated
		}
		res.RemediationRequest = types.NamespacedName{Namespace: "kubernaut-system", Name: "rr-" + fp[:12] + "-x7k2p"}
		return res, nil
	}
}

// goldenRequest is one request whose answer is kept as a golden file.
type goldenRequest struct {
	method, path, contentType string
	body                      []byte
	auth                      Authenticator
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "signal", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// What a sender gets back, as golden files: the answer to each captured
// payload and to each kind of bad request, status line, headers and body.
func TestGoldenResponses(t *testing.T) {
	alert := func(labels string) []byte {
		return []byte(`{"version":"4","receiver":"rrguard","status":"firing","alerts":[{"status":"firing","labels":` + labels + `,"startsAt":"2026-11-26T04:58:12Z"}]}`)
	}
	bigAnnotations := `{"a":"` + strings.Repeat("x", 400_000) + `","b":"` + strings.Repeat("y", 400_000) + `"}`
	requests := map[string]goldenRequest{
		"alertmanager-v0.28.1-payments":              {body: fixture(t, "alertmanager-v0.28.1-payments.json")},
		"alertmanager-v0.28.1-payments-one-resolved": {body: fixture(t, "alertmanager-v0.28.1-payments-one-resolved.json")},
		"alertmanager-v0.28.1-node-labelled-cluster": {body: fixture(t, "alertmanager-v0.28.1-node-labelled-cluster.json")},
		"alertmanager-v4":                            {body: fixture(t, "alertmanager-v4.json")},
		"event-v1-backoff":                           {path: KubernetesEventPath, body: fixture(t, "event-v1-backoff.json")},
		"event-events.k8s.io-v1-nodenotready":        {path: KubernetesEventPath, body: fixture(t, "event-events.k8s.io-v1-nodenotready.json")},
		"an alert without a severity":                {body: alert(`{"alertname":"A","namespace":"payments","deployment":"api"}`)},
		"a cluster label with a colon":               {body: alert(`{"alertname":"A","namespace":"payments","deployment":"api","cluster":"eu:1"}`)},
		"a severity over 50 characters":              {body: alert(`{"alertname":"A","namespace":"payments","deployment":"api","severity":"` + strings.Repeat("s", 51) + `"}`)},
		"an event about a name with a path":          {path: KubernetesEventPath, body: []byte(`{"type":"Warning","reason":"BackOff","involvedObject":{"kind":"Pod","namespace":"payments","name":".."}}`)},
		"an alert too large for a request": {
			body: []byte(`{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"Big","namespace":"payments","deployment":"api"},"annotations":` + bigAnnotations + `}]}`),
		},
		"malformed JSON":            {body: []byte(`{"version":"4","alerts":[`)},
		"an unavailable API server": {body: alert(`{"alertname":"A","namespace":"payments","deployment":"down"}`)},
		"a passed deadline":         {body: alert(`{"alertname":"A","namespace":"payments","deployment":"slow"}`)},
		"a wrong content type":      {contentType: "text/plain", body: alert(`{"alertname":"A","namespace":"payments","deployment":"api"}`)},
		"a GET":                     {method: http.MethodGet},
		"an unknown path":           {path: "/api/v1/signals/datadog", body: []byte(`{}`)},
		"no token": {body: alert(`{"alertname":"A","namespace":"payments","deployment":"api"}`),
			auth: AuthenticatorFunc(func(*http.Request) error { return fmt.Errorf("%w: no bearer token", ErrUnauthenticated) })},
	}
	for name, req := range requests {
		t.Run(name, func(t *testing.T) {
			h, _ := newTestHandler(t, Options{Counter: firstCreates(), Auth: req.auth})
			method, path, ct := req.method, req.path, req.contentType
			if method == "" {
				method = http.MethodPost
			}
			if path == "" {
				path = PrometheusPath
			}
			if ct == "" {
				ct = "application/json"
			}
			rec := do(h, method, path, ct, string(req.body), "X-Request-Id", "golden-"+strings.ReplaceAll(name, " ", "-"))
			var got bytes.Buffer
			fmt.Fprintf(&got, "%s %s\nHTTP %d %s\n", method, path, rec.Code, http.StatusText(rec.Code))
			for _, h := range []string{"Content-Type", "Retry-After", "Allow", "WWW-Authenticate"} {
				if v := rec.Header().Get(h); v != "" {
					fmt.Fprintf(&got, "%s: %s\n", h, v)
				}
			}
			got.WriteString("\n")
			if err := json.Indent(&got, rec.Body.Bytes(), "", "  "); err != nil {
				t.Fatalf("body is not JSON: %v\n%s", err, rec.Body)
			}
			got.WriteString("\n")
			golden.Compare(t, filepath.Join("testdata", "golden", strings.ReplaceAll(name, " ", "-")+".txt"), got.Bytes())
		})
	}
}
