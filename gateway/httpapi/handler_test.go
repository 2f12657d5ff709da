package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/gateway/pipeline"
	"github.com/rrguard/rrguard/gateway/signal"
	"github.com/rrguard/rrguard/gateway/target"
)

// These tests hold the HTTP contract with a scripted Counter; the counting
// itself is tested on the real API server in packages pipeline and gateway.

// counterFunc scripts a Counter by deployment name. It fingerprints the
// signal as the pipeline does, so that the answers name real fingerprints.
type counterFunc func(sig *signal.Signal, fp string) (pipeline.Result, error)

func (f counterFunc) Submit(_ context.Context, sig *signal.Signal) (pipeline.Result, error) {
	if sig.Target.Kind == "" {
		// The pipeline has package target name an alert's object on the
		// API server; the script takes its deployment label, else the
		// alert stands for itself.
		sig.Target = v1alpha1.ResourceIdentifier{Kind: "Deployment", Name: sig.Labels["deployment"], Namespace: sig.Labels["namespace"]}
		if sig.Target.Name == "" {
			sig.Target = v1alpha1.ResourceIdentifier{Kind: target.UnknownKind, Name: sig.Name}
		}
	}
	fp, err := sig.Fingerprint()
	if err != nil {
		return pipeline.Result{}, err
	}
	return f(sig, fp)
}

// script answers created for "new", duplicate for "known", ignored for
// "gone" (its object is gone), and the named error for "down", "slow",
// "refused" and "unfingerprintable".
func script() counterFunc {
	var mu sync.Mutex
	counts := map[string]int64{}
	return func(sig *signal.Signal, fp string) (pipeline.Result, error) {
		switch sig.Target.Name {
		case "down":
			return pipeline.Result{}, fmt.Errorf("%w: connection refused", pipeline.ErrUnavailable)
		case "slow":
			return pipeline.Result{}, pipeline.ErrDeadline
		case "refused":
			return pipeline.Result{}, fmt.Errorf("%w: spec.signalName: Invalid value", pipeline.ErrRejected)
		case "unfingerprintable":
			return pipeline.Result{}, fmt.Errorf("%w: target kind: Required value", signal.ErrInvalid)
		case "gone":
			return pipeline.Result{Outcome: pipeline.OutcomeIgnored, Reason: "Pod shop/gone-1 no longer exists"}, nil
		}
		mu.Lock()
		defer mu.Unlock()
		counts[sig.Target.Name]++
		res := pipeline.Result{
			Fingerprint: fp, OccurrenceCount: counts[sig.Target.Name], Outcome: pipeline.OutcomeDuplicate,
			RemediationRequest: types.NamespacedName{Namespace: "rrguard-system", Name: "rr-" + sig.Target.Name},
		}
		if sig.Target.Name == "new" && counts["new"] == 1 {
			res.Outcome = pipeline.OutcomeCreated
		}
		return res, nil
	}
}

func newTestHandler(t *testing.T, o Options) (http.Handler, *Metrics) {
	t.Helper()
	if o.Counter == nil {
		o.Counter = script()
	}
	if o.Auth == nil {
		o.Auth = AllowAll
	}
	o.Metrics = NewMetrics(prometheus.NewRegistry())
	o.Log, o.Audit = logr.Discard(), logr.Discard()
	h, err := NewHandler(o)
	if err != nil {
		t.Fatal(err)
	}
	return h, o.Metrics
}

func firing(deployment string) string {
	return fmt.Sprintf(`{"status":"firing","labels":{"alertname":"A","deployment":%q,"namespace":"shop"}}`, deployment)
}

func payload(alerts ...string) string {
	return `{"version":"4","receiver":"rrguard","alerts":[` + strings.Join(alerts, ",") + `]}`
}

func do(h http.Handler, method, path, contentType, body string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func decodeProblem(t *testing.T, rec *httptest.ResponseRecorder) Problem {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != ProblemContentType {
		t.Fatalf("content type %q, want %s; body %s", ct, ProblemContentType, rec.Body)
	}
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p.Status != rec.Code || p.Title == "" || p.Type == "" || p.RequestID == "" {
		t.Errorf("problem %+v does not match status %d or lacks title, type or request ID", p, rec.Code)
	}
	return p
}

func TestOneSignalPerRequest(t *testing.T) {
	tests := map[string]struct {
		path, body string
		code       int
		status     string
		problem    string
		retryAfter bool
	}{
		"a new incident is created":                {body: payload(firing("new")), code: 201, status: "created"},
		"a known incident is a duplicate":          {body: payload(firing("known")), code: 202, status: "duplicate"},
		"an unavailable API server asks for retry": {body: payload(firing("down")), code: 503, problem: "unavailable", retryAfter: true},
		"a passed deadline is a gateway timeout":   {body: payload(firing("slow")), code: 504, problem: "deadline-exceeded"},
		"an object the API server refuses is permanent": {
			body: payload(firing("refused")), code: 400, problem: "rejected-by-api-server",
		},
		"a signal the pipeline cannot fingerprint is invalid": {
			body: payload(firing("unfingerprintable")), code: 400, problem: "invalid-payload",
		},
		"a Warning event is counted": {
			path: KubernetesEventPath, code: 201, status: "created",
			body: `{"type":"Warning","reason":"BackOff","involvedObject":{"kind":"Deployment","namespace":"shop","name":"new"}}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h, _ := newTestHandler(t, Options{})
			path := tc.path
			if path == "" {
				path = PrometheusPath
			}
			rec := do(h, http.MethodPost, path, "application/json", tc.body)
			if rec.Code != tc.code {
				t.Fatalf("code %d %s, want %d", rec.Code, rec.Body, tc.code)
			}
			if got := rec.Header().Get("Retry-After") != ""; got != tc.retryAfter {
				t.Errorf("Retry-After present = %v, want %v", got, tc.retryAfter)
			}
			if tc.problem != "" {
				if p := decodeProblem(t, rec); !strings.HasSuffix(p.Type, "/"+tc.problem) || len(p.Errors) != 1 {
					t.Errorf("problem %+v, want type .../%s with the alert's error", p, tc.problem)
				}
				return
			}
			var s SignalResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
				t.Fatal(err)
			}
			if string(s.Status) != tc.status || s.RemediationRequest == nil || !strings.HasPrefix(s.RemediationRequest.Name, "rr-") ||
				s.RemediationRequest.Namespace != "rrguard-system" || s.OccurrenceCount < 1 || len(s.Fingerprint) != 64 {
				t.Errorf("response %+v, want %s naming its request with a count and the fingerprint", s, tc.status)
			}
		})
	}
}

func TestSeveralAlertsInOnePayload(t *testing.T) {
	tests := map[string]struct {
		alerts  []string
		code    int
		summary Summary
		problem string
	}{
		"counted, ignored and rejected alerts get 207": {
			alerts:  []string{firing("new"), `{"status":"resolved","labels":{"alertname":"A","deployment":"x","namespace":"shop"}}`, `{"status":"firing","labels":{"alertname":"A","cluster":"a:b"}}`},
			code:    207,
			summary: Summary{Total: 3, Created: 1, Ignored: 1, Rejected: 1},
		},
		"a failure beside a counted alert stays in the 207, marked retryable": {
			alerts:  []string{firing("known"), firing("down")},
			code:    207,
			summary: Summary{Total: 2, Duplicate: 1, Failed: 1},
		},
		"nothing counted and one failure: 503, so the sender retries all": {
			alerts: []string{firing("down"), `{"status":"firing","labels":{"alertname":"A","cluster":"a:b"}}`}, code: 503, problem: "unavailable",
		},
		"nothing counted, only deadlines: 504": {
			alerts: []string{firing("slow"), firing("slow")}, code: 504, problem: "deadline-exceeded",
		},
		"nothing counted and every alert invalid: 400": {
			alerts: []string{`{"status":"firing","labels":{"alertname":"A","cluster":"a:b"}}`, `{"status":"firing","labels":{"deployment":"d","namespace":"n"}}`}, code: 400, problem: "invalid-payload",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h, _ := newTestHandler(t, Options{})
			rec := do(h, http.MethodPost, PrometheusPath, "application/json", payload(tc.alerts...))
			if rec.Code != tc.code {
				t.Fatalf("code %d %s, want %d", rec.Code, rec.Body, tc.code)
			}
			if tc.problem != "" {
				p := decodeProblem(t, rec)
				if !strings.HasSuffix(p.Type, "/"+tc.problem) || len(p.Errors) == 0 {
					t.Errorf("problem %+v, want .../%s listing the alerts' errors", p, tc.problem)
				}
				return
			}
			var m MultiStatusResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			if m.Summary != tc.summary || len(m.Results) != len(tc.alerts) {
				t.Errorf("summary %+v with %d results, want %+v", m.Summary, len(m.Results), tc.summary)
			}
			for _, r := range m.Results {
				if r.Status == pipeline.OutcomeFailed && (!r.Retryable || r.Code != 503 || r.Error == "") {
					t.Errorf("failed result %+v, want retryable 503 with its error", r)
				}
			}
		})
	}
}

func TestRequestsRefusedBeforeCounting(t *testing.T) {
	var submitted bool
	counter := counterFunc(func(*signal.Signal, string) (pipeline.Result, error) {
		submitted = true
		return pipeline.Result{}, errors.New("must not be called")
	})
	auth := AuthenticatorFunc(func(r *http.Request) error {
		switch r.Header.Get("Authorization") {
		case "Bearer ok":
			return nil
		case "Bearer nobody":
			return fmt.Errorf("%w: user nobody may not post", ErrForbidden)
		case "Bearer flaky":
			return errors.New("create tokenreview: connection refused")
		case "Bearer busy":
			return fmt.Errorf("%w: 8 token reviews in flight", ErrThrottled)
		}
		return fmt.Errorf("%w: no bearer token", ErrUnauthenticated)
	})
	h, _ := newTestHandler(t, Options{Counter: counter, Auth: auth, MaxBodyBytes: 64})
	big := strings.Repeat("x", 65)
	tests := map[string]struct {
		method, path, contentType, body, token string
		code                                   int
		problem                                string
	}{
		"GET is not allowed":                           {method: "GET", token: "ok", code: 405, problem: "method-not-allowed"},
		"an unknown path":                              {path: "/api/v1/signals/other", token: "ok", code: 404, problem: "not-found"},
		"no token":                                     {body: big, code: 401, problem: "unauthenticated"},
		"a forbidden caller":                           {token: "nobody", code: 403, problem: "forbidden"},
		"an undecidable review is retryable":           {token: "flaky", code: 503, problem: "unavailable"},
		"a review that could not start is throttled":   {token: "busy", code: 429, problem: "too-many-requests"},
		"authentication comes before the size limit":   {token: "nobody", body: big, code: 403, problem: "forbidden"},
		"a body over the limit":                        {token: "ok", body: big, code: 413, problem: "payload-too-large"},
		"XML":                                          {token: "ok", contentType: "application/xml", code: 415, problem: "unsupported-media-type"},
		"a broken content type":                        {token: "ok", contentType: "application/json; charset", code: 415, problem: "unsupported-media-type"},
		"a +json media type is JSON, then fails parse": {token: "ok", contentType: "application/vnd.alertmanager+json", body: "{", code: 400, problem: "invalid-payload"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			method, path := cmp.Or(tc.method, http.MethodPost), cmp.Or(tc.path, PrometheusPath)
			ct := cmp.Or(tc.contentType, "application/json")
			var hdr []string
			if tc.token != "" {
				hdr = []string{"Authorization", "Bearer " + tc.token}
			}
			rec := do(h, method, path, ct, tc.body, hdr...)
			if rec.Code != tc.code {
				t.Fatalf("code %d %s, want %d", rec.Code, rec.Body, tc.code)
			}
			if p := decodeProblem(t, rec); !strings.HasSuffix(p.Type, "/"+tc.problem) || p.Instance != path {
				t.Errorf("problem %+v, want .../%s at %s", p, tc.problem, path)
			}
			switch tc.code {
			case 401:
				if rec.Header().Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
			case 429:
				if rec.Header().Get("Retry-After") != "1" {
					t.Errorf("429 with Retry-After %q, want 1", rec.Header().Get("Retry-After"))
				}
			case 405:
				if rec.Header().Get("Allow") != http.MethodPost {
					t.Errorf("Allow = %q, want POST", rec.Header().Get("Allow"))
				}
			}
		})
	}
	if submitted {
		t.Error("a refused request reached the counter")
	}
}

func TestARequestIDIsKeptOrMade(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	rec := do(h, http.MethodPost, PrometheusPath, "application/json", payload(firing("new")), "X-Request-Id", "am-4711")
	if got := rec.Header().Get("X-Request-Id"); got != "am-4711" {
		t.Errorf("X-Request-Id = %q, want the caller's am-4711", got)
	}
	rec = do(h, http.MethodPost, PrometheusPath, "application/json", payload(firing("new")), "X-Request-Id", "bad id\n")
	if got := rec.Header().Get("X-Request-Id"); got == "" || strings.ContainsAny(got, " \n") {
		t.Errorf("X-Request-Id = %q, want a fresh one in place of a malformed one", got)
	}
}

func TestMetricsCountSignalsByOutcomeAndRequestsByCode(t *testing.T) {
	h, m := newTestHandler(t, Options{})
	do(h, http.MethodPost, PrometheusPath, "application/json", payload(firing("new"), firing("new"), `{"status":"resolved","labels":{}}`, firing("down")))
	do(h, http.MethodPost, PrometheusPath, "text/plain", "")
	do(h, http.MethodPost, KubernetesEventPath, "application/json", `{"type":"Normal","reason":"Pulled","involvedObject":{"kind":"Pod","name":"x"}}`)

	want := map[[2]string]float64{
		{"prometheus", "created"}: 1, {"prometheus", "duplicate"}: 1, {"prometheus", "ignored"}: 1,
		{"prometheus", "failed"}: 1, {"prometheus", "rejected"}: 1,
		{"kubernetes-event", "ignored"}: 1, {"kubernetes-event", "created"}: 0,
	}
	for k, v := range want {
		var metric dto.Metric
		if err := m.Signals.WithLabelValues(k[0], k[1]).Write(&metric); err != nil {
			t.Fatal(err)
		}
		if got := metric.GetCounter().GetValue(); got != v {
			t.Errorf("signals{source=%s,outcome=%s} = %v, want %v", k[0], k[1], got, v)
		}
	}
	for _, c := range []struct{ endpoint, code string }{{PrometheusPath, "207"}, {PrometheusPath, "415"}, {KubernetesEventPath, "200"}} {
		obs, err := m.Latency.GetMetricWithLabelValues(c.endpoint, c.code)
		if err != nil {
			t.Fatal(err)
		}
		var metric dto.Metric
		if err := obs.(prometheus.Histogram).Write(&metric); err != nil {
			t.Fatal(err)
		}
		if metric.GetHistogram().GetSampleCount() != 1 {
			t.Errorf("latency{endpoint=%s,code=%s} has %d samples, want 1", c.endpoint, c.code, metric.GetHistogram().GetSampleCount())
		}
	}
}

func TestEveryDecisionIsAudited(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	audit := logr.New(&recordSink{mu: &mu, buf: &buf})
	h, err := NewHandler(Options{Counter: script(), Auth: AllowAll, Log: logr.Discard(), Audit: audit})
	if err != nil {
		t.Fatal(err)
	}
	do(h, http.MethodPost, PrometheusPath, "application/json", payload(firing("new"), `{"status":"resolved","labels":{}}`, `{"status":"firing","labels":{}}`))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d audit lines, want one per alert: %q", len(lines), lines)
	}
	for _, want := range []string{"outcome=created", "outcome=ignored", "outcome=rejected"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("no audit line with %s in %q", want, buf.String())
		}
	}
	if !strings.Contains(buf.String(), "remediationRequest=rrguard-system/rr-new") || !strings.Contains(buf.String(), "occurrenceCount=1") {
		t.Errorf("the created line lacks the request and count: %q", buf.String())
	}
}

// recordSink writes each Info as one line of key=value pairs.
type recordSink struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
	kv  []any
}

func (s *recordSink) Init(logr.RuntimeInfo)        {}
func (s *recordSink) Enabled(int) bool             { return true }
func (s *recordSink) Error(error, string, ...any)  {}
func (s *recordSink) WithName(string) logr.LogSink { return s }
func (s *recordSink) WithValues(kv ...any) logr.LogSink {
	return &recordSink{mu: s.mu, buf: s.buf, kv: append(append([]any{}, s.kv...), kv...)}
}
func (s *recordSink) Info(_ int, msg string, kv ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := append(append([]any{}, s.kv...), kv...)
	fmt.Fprint(s.buf, msg)
	for i := 0; i+1 < len(all); i += 2 {
		fmt.Fprintf(s.buf, " %v=%v", all[i], all[i+1])
	}
	fmt.Fprintln(s.buf)
}

// A signal the pipeline ignores (its object is gone without a trace) is
// answered 200 ignored with the pipeline's reason, never a 4xx.
func TestASignalThePipelineIgnoresIsAnswered200(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	rec := do(h, http.MethodPost, PrometheusPath, "application/json", payload(firing("gone")))
	var got SignalResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusOK ||
		got.Status != pipeline.OutcomeIgnored || got.Reason != "Pod shop/gone-1 no longer exists" {
		t.Errorf("%d %s (%v), want 200 ignored with the reason", rec.Code, rec.Body, err)
	}
}
