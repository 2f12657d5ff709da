package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/internal/auditlog"
	"github.com/rrguard/rrguard/test/testenv"
)

const goodFP = "90c5375f2830cbd56431459d314af87e810ef05c5eccc4d66b50373682befa9b"

func rrJSON(t testing.TB, name, uid, fp string, phase v1alpha1.Phase) []byte {
	t.Helper()
	rr := v1alpha1.RemediationRequest{
		TypeMeta:   metav1.TypeMeta{APIVersion: "kubernaut.ai/v1alpha1", Kind: "RemediationRequest"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(uid)},
		Spec:       v1alpha1.RemediationRequestSpec{SignalFingerprint: fp, SignalName: "x"},
		Status:     v1alpha1.RemediationRequestStatus{OverallPhase: phase},
	}
	b, err := json.Marshal(rr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func review(op admissionv1.Operation, sub string, obj, old []byte) admissionv1.AdmissionRequest {
	return admissionv1.AdmissionRequest{
		UID:         "req-1",
		Resource:    metav1.GroupVersionResource{Group: "kubernaut.ai", Version: "v1alpha1", Resource: "remediationrequests"},
		SubResource: sub, Operation: op, Namespace: "ns", Name: "a",
		UserInfo:  authenticationv1.UserInfo{Username: "alice", Groups: []string{"system:authenticated"}},
		Object:    runtime.RawExtension{Raw: obj},
		OldObject: runtime.RawExtension{Raw: old},
	}
}

// newTestHandler returns the handler NewHandler wires with o, deciding on
// the fake client (unit tests only; admission itself is proven on the real
// API server), and its audit output.
func newTestHandler(t testing.TB, o Options) (*Handler, *testenv.Buffer) {
	t.Helper()
	c := fake.NewClientBuilder().WithScheme(testenv.NewScheme()).
		WithIndex(&v1alpha1.RemediationRequest{}, v1alpha1.FingerprintField, func(o client.Object) []string {
			return []string{o.(*v1alpha1.RemediationRequest).Spec.SignalFingerprint}
		}).Build()
	return newHandlerOn(t, &dedup.Guard{Reader: c, Writer: c}, o)
}

// newHandlerOn is newTestHandler deciding with g.
func newHandlerOn(t testing.TB, g *dedup.Guard, o Options) (*Handler, *testenv.Buffer) {
	t.Helper()
	audit := &testenv.Buffer{}
	o.Audit, o.Registerer = auditlog.New(audit), prometheus.NewRegistry()
	h, _, err := NewHandler(dedup.NewCoalescer(g), nil, testenv.NewScheme(), o)
	if err != nil {
		t.Fatal(err)
	}
	return h, audit
}

func TestHandlerRequestsItCannotDecideOn(t *testing.T) {
	good := rrJSON(t, "a", "uid-a", goodFP, "")
	tests := map[string]struct {
		req        admissionv1.AdmissionRequest
		allowed    bool
		code       int32
		reason     string
		msgContain string
	}{
		"another resource is refused as a bad request": {
			req: func() admissionv1.AdmissionRequest {
				r := review(admissionv1.Create, "", good, nil)
				r.Resource.Resource = "pods"
				return r
			}(),
			code: 400, reason: "Invalid", msgContain: "unexpected resource",
		},
		"an object that is not JSON is refused with the cause": {
			req:  review(admissionv1.Create, "", []byte("{not json"), nil),
			code: 400, reason: "Invalid", msgContain: "decode object",
		},
		"an empty object is refused": {
			req:  review(admissionv1.Create, "", nil, nil),
			code: 400, reason: "Invalid", msgContain: "decode object",
		},
		"a malformed fingerprint is unprocessable": {
			req:  review(admissionv1.Create, "", rrJSON(t, "a", "uid-a", "ABC", ""), nil),
			code: 422, reason: "Invalid", msgContain: "spec.signalFingerprint",
		},
		"an object without a uid is refused": {
			req:  review(admissionv1.Create, "", rrJSON(t, "a", "", goodFP, ""), nil),
			code: 400, reason: "Invalid", msgContain: "no namespace, name or uid",
		},
		"a malformed old object on a status update is refused": {
			req:  review(admissionv1.Update, "status", good, []byte("[]")),
			code: 400, reason: "Invalid", msgContain: "decode oldObject",
		},
		"a status update that keeps the request active is allowed untouched": {
			req:     review(admissionv1.Update, "status", rrJSON(t, "a", "uid-a", goodFP, "Executing"), rrJSON(t, "a", "uid-a", goodFP, "Pending")),
			allowed: true, reason: "NotApplicable",
		},
		"a status update into a terminal phase is allowed untouched": {
			req:     review(admissionv1.Update, "status", rrJSON(t, "a", "uid-a", goodFP, "Completed"), rrJSON(t, "a", "uid-a", goodFP, "Executing")),
			allowed: true, reason: "NotApplicable",
		},
		"a delete is allowed untouched": {
			req:     review(admissionv1.Delete, "", nil, good),
			allowed: true, reason: "NotApplicable",
		},
		"a first create is admitted": {
			req:     review(admissionv1.Create, "", good, nil),
			allowed: true, reason: "Unique",
		},
		"a re-activation with no other holder is admitted": {
			req:     review(admissionv1.Update, "status", rrJSON(t, "a", "uid-a", goodFP, "Processing"), rrJSON(t, "a", "uid-a", goodFP, "Failed")),
			allowed: true, reason: "Reactivated",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h, audit := newTestHandler(t, Options{})
			resp := h.Handle(context.Background(), admission.Request{AdmissionRequest: tc.req})
			if resp.Allowed != tc.allowed {
				t.Fatalf("allowed = %v, want %v (%+v)", resp.Allowed, tc.allowed, resp.Result)
			}
			if !tc.allowed {
				if resp.Result == nil || resp.Result.Code != tc.code || !strings.Contains(resp.Result.Message, tc.msgContain) {
					t.Errorf("result = %+v, want code %d with %q", resp.Result, tc.code, tc.msgContain)
				}
			}
			lines := strings.Split(strings.TrimSpace(audit.String()), "\n")
			if len(lines) != 1 {
				t.Fatalf("%d audit lines, want 1: %s", len(lines), audit)
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
				t.Fatalf("audit line not JSON: %v", err)
			}
			if rec["reason"] != tc.reason || rec["logger"] != "audit" || rec["requestUID"] != "req-1" || rec["user"] != "alice" {
				t.Errorf("audit = %v, want reason %s", rec, tc.reason)
			}
		})
	}
}

func TestHandlerRecoversFromAPanicAndAuditsIt(t *testing.T) {
	// A Guard without a reader panics on its first read, on a goroutine
	// of the Coalescer in front of it.
	h, buf := newHandlerOn(t, &dedup.Guard{}, Options{})
	resp := h.Handle(context.Background(), admission.Request{AdmissionRequest: review(admissionv1.Create, "", rrJSON(t, "a", "uid-a", goodFP, ""), nil)})
	if resp.Allowed || resp.Result.Code != http.StatusInternalServerError || !strings.Contains(resp.Result.Message, "internal error") {
		t.Fatalf("response = %+v, want a 500 denial", resp)
	}
	var rec map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &rec); err != nil {
		t.Fatalf("want exactly one JSON audit line, got %q: %v", buf.String(), err)
	}
	if rec["reason"] != "Error" || rec["decision"] != "denied" {
		t.Errorf("audit = %v, want a denied Error", rec)
	}
}

// FuzzAdmissionReview feeds arbitrary bodies to the webhook's HTTP
// endpoint: every answer must be a well-formed AdmissionReview, a denial
// must carry a 4xx/5xx code, and no input may reach a panic.
func FuzzAdmissionReview(f *testing.F) {
	good := rrJSON(f, "a", "uid-a", goodFP, "")
	for _, r := range []admissionv1.AdmissionRequest{
		review(admissionv1.Create, "", good, nil),
		review(admissionv1.Update, "status", rrJSON(f, "a", "uid-a", goodFP, "Pending"), rrJSON(f, "a", "uid-a", goodFP, "Completed")),
		review(admissionv1.Create, "", []byte(`{"spec":{"signalFingerprint":7}}`), nil),
	} {
		b, _ := json.Marshal(admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Request: &r})
		f.Add(b)
	}
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`))
	f.Add([]byte(`{`))
	h, audit := newTestHandler(f, Options{})
	wh := &admission.Webhook{Handler: h}
	f.Fuzz(func(t *testing.T, body []byte) {
		audit.Reset()
		req := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		wh.ServeHTTP(rec, req)
		var out admissionv1.AdmissionReview
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
			t.Fatalf("response is not an AdmissionReview: %q (%v)", rec.Body.String(), err)
		}
		if !out.Response.Allowed && (out.Response.Result == nil || out.Response.Result.Code < 400) {
			t.Fatalf("denial without an error code: %+v", out.Response.Result)
		}
		if strings.Contains(audit.String(), "internal error deciding admission") {
			t.Fatalf("input reached a panic: %s", audit.String())
		}
	})
}
