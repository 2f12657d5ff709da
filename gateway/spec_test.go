package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/gateway/httpapi"
	"github.com/rrguard/rrguard/gateway/signal"
	"github.com/rrguard/rrguard/test/testenv"
)

// These tests hold the requests the gateway stores to what kubernaut's
// gateway would store, on the real API server with rrguard's webhook.

func signalFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("signal", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goldenSpecs reads the specs package signal's golden file holds for
// fixture, by signal name.
func goldenSpecs(t *testing.T, fixture string) map[string]v1alpha1.RemediationRequestSpec {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("signal", "testdata", "golden", strings.TrimSuffix(fixture, ".json")+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var items []struct {
		Request *v1alpha1.RemediationRequest `json:"remediationRequest"`
	}
	if err := yaml.Unmarshal(b, &items); err != nil {
		t.Fatal(err)
	}
	specs := map[string]v1alpha1.RemediationRequestSpec{}
	for _, it := range items {
		if it.Request != nil {
			specs[it.Request.Spec.SignalName] = it.Request.Spec
		}
	}
	return specs
}

// A notification captured from Alertmanager v0.28.1 (its Deployment's and
// its Pod's alerts one incident), one of its alerts
// without a severity label, goes through the gateway; what the API server
// stores is the golden spec (kubernaut's field for field), the alert without
// a severity included as "unknown", and the payload is stored as the
// notification's own text.
func TestACapturedNotificationIsStoredAsTheGoldenSpecs(t *testing.T) {
	ns := env.Namespace(t)
	gw := startGateway(t, ns)
	seedPayments(t)
	const fixture = "alertmanager-v0.28.1-payments.json"
	body := signalFixture(t, fixture)
	r, err := post(gw.URL, httpapi.PrometheusPath, "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	var m httpapi.MultiStatusResponse
	// The Deployment's alert and its Pod's are one incident: the first
	// creates, the other counts on it.
	if err := json.Unmarshal(r.Body, &m); err != nil || r.Code != http.StatusMultiStatus || m.Summary.Created != 2 || m.Summary.Duplicate != 1 {
		t.Fatalf("got %d %s, want 207 with two created and one duplicate", r.Code, r.Body)
	}
	golden := goldenSpecs(t, fixture)
	stored := listRRs(t, ns)
	if len(stored) != 2 {
		t.Fatalf("%d requests stored, want 2", len(stored))
	}
	for _, rr := range stored {
		spec := rr.Spec
		want, ok := golden[spec.SignalName]
		if !ok {
			t.Errorf("%s: no golden spec for %s", rr.Name, spec.SignalName)
			continue
		}
		if spec.OriginalPayload != string(body) {
			t.Errorf("%s: originalPayload is not the notification as received", rr.Name)
		}
		spec.OriginalPayload, spec.ReceivedTime = want.OriginalPayload, want.ReceivedTime
		if !equality.Semantic.DeepEqual(spec, want) {
			t.Errorf("%s: stored spec differs from the golden one:\n got %+v\nwant %+v", rr.Name, spec, want)
		}
		if spec.SignalName == "PaymentsQueueBacklog" && spec.Severity != signal.SeverityUnknown {
			t.Errorf("the alert without a severity label is stored with severity %q, want %q", spec.Severity, signal.SeverityUnknown)
		}
	}
	// Stored as text, not base64: what a consumer reading kubernaut's
	// string field gets.
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("RemediationRequest"))
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(&stored[0]), u); err != nil {
		t.Fatal(err)
	}
	if p, _, _ := unstructured.NestedString(u.Object, "spec", "originalPayload"); p != string(body) {
		t.Errorf("stored originalPayload = %.80q..., want the notification's text", p)
	}
}

// Input the schema or Kubernetes would refuse is answered 4xx with the field
// named, before anything is written: no request, no claim.
func TestSpecBadInputIsRefusedNamingTheFieldAndWritesNothing(t *testing.T) {
	ns := env.Namespace(t)
	gw := startGateway(t, ns)
	alertWith := func(labels string) []byte {
		return []byte(`{"version":"4","receiver":"rrguard","alerts":[{"status":"firing","labels":` + labels + `,"startsAt":"2026-11-26T04:58:12Z"}]}`)
	}
	huge := `{"a":"` + strings.Repeat("x", 300_000) + `","b":"` + strings.Repeat("y", 300_000) + `"}`
	tests := map[string]struct {
		path  string
		body  []byte
		code  int
		field string
	}{
		"a cluster label with ':'":                             {body: alertWith(`{"alertname":"A","namespace":"payments","deployment":"api","cluster":"eu:1"}`), code: 400, field: "labels[cluster]"},
		"a blank cluster label":                                {body: alertWith(`{"alertname":"A","namespace":"payments","deployment":"api","cluster":"  "}`), code: 400, field: "labels[cluster]"},
		"a severity over 50":                                   {body: alertWith(`{"alertname":"A","namespace":"payments","deployment":"api","severity":"` + strings.Repeat("s", 51) + `"}`), code: 400, field: "labels[severity]"},
		"an alert that names no object, its alertname no name": {body: alertWith(`{"alertname":"a/b","job":"x"}`), code: 400, field: "alertname"},
		"an event about '..'": {path: httpapi.KubernetesEventPath, code: 400, field: "involvedObject.name",
			body: []byte(`{"type":"Warning","reason":"BackOff","involvedObject":{"kind":"Pod","namespace":"payments","name":".."}}`)},
		"an alert too large to store": {code: 413, field: "over the",
			body: []byte(`{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"Big","namespace":"payments","deployment":"api"},"annotations":` + huge + `}]}`)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = httpapi.PrometheusPath
			}
			r, err := post(gw.URL, path, "application/json", tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if r.Code != tc.code || r.ContentType != httpapi.ProblemContentType {
				t.Fatalf("got %d %q %s, want %d problem+json", r.Code, r.ContentType, r.Body, tc.code)
			}
			if p := r.problem(t); !strings.Contains(p.Detail, tc.field) {
				t.Errorf("problem %q does not name %s", p.Detail, tc.field)
			}
		})
	}
	if n := len(listRRs(t, ns)); n != 0 {
		t.Errorf("%d RemediationRequests written for bad input, want 0", n)
	}
	if n := claims(t, ns); n != 0 {
		t.Errorf("%d claims written for bad input, want 0", n)
	}
}

// largeAlert is an alert about deployment in payments whose two annotations
// hold n bytes each: the request copies them and the notification.
func largeAlert(deployment string, n int) signal.Alert {
	a := alert("payments", deployment)
	a.Annotations = map[string]string{"description": strings.Repeat("d", n), "logs": strings.Repeat("l", n)}
	return a
}

// An alert of about 700 KB fits the gateway's 1 MiB body limit but not, as
// a request, etcd (on the old code the API server refused it with "request
// is too large", answered 503, and the signals batched with it failed with
// it). It is answered 413 without entering the pipeline, and the small
// alerts about the same deployment sent at the same moment are counted
// exactly, on one request. The largest alert the limit lets through is
// stored.
func TestASignalTooLargeToStoreIs413AndTheSignalsBesideItAreCounted(t *testing.T) {
	ns := env.Namespace(t)
	gw := startGateway(t, ns)
	big := alertmanagerPayload(largeAlert("api", 350_000))
	if len(big) < 650_000 || len(big) > httpapi.DefaultMaxBodyBytes {
		t.Fatalf("the big alert is %d bytes; the test needs about 700 KB, under the body limit", len(big))
	}
	small := alertmanagerPayload(alert("payments", "api"))
	const smalls = 12
	resps := make([]response, smalls+1)
	errs := make([]error, smalls+1)
	testenv.AtOnce(smalls+1, func(i int) {
		body := small
		if i == smalls {
			body = big
		}
		resps[i], errs[i] = post(gw.URL, httpapi.PrometheusPath, "application/json", body)
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	bigResp, resps := resps[smalls], resps[:smalls]
	if bigResp.Code != http.StatusRequestEntityTooLarge || !strings.HasSuffix(bigResp.problem(t).Type, "/signal-too-large") {
		t.Errorf("the 700 KB alert got %d %.200s, want 413 signal-too-large", bigResp.Code, bigResp.Body)
	}
	for i, r := range resps {
		if r.Code != http.StatusCreated && r.Code != http.StatusAccepted {
			t.Errorf("small alert %d got %d %s, want 201 or 202", i, r.Code, r.Body)
		}
	}
	stored := listRRs(t, ns)
	if len(stored) != 1 || stored[0].Status.GetDeduplication().OccurrenceCount != smalls {
		t.Fatalf("%d requests stored (first counting %v), want one counting %d", len(stored), stored, smalls)
	}

	// Just under the limit: stored, and counted again.
	fits := alertmanagerPayload(largeAlert("web", 235_000))
	for want := 201; want <= 202; want++ {
		r, err := post(gw.URL, httpapi.PrometheusPath, "application/json", fits)
		if err != nil || r.Code != want {
			t.Fatalf("an alert of %d bytes: %v %d %.200s, want %d", len(fits), err, r.Code, r.Body, want)
		}
	}
	for _, rr := range listRRs(t, ns) {
		if rr.Spec.TargetResource.Name == "web" {
			b, _ := json.Marshal(rr)
			t.Logf("the largest request stored here takes %d bytes", len(b))
			return
		}
	}
	t.Error("the alert that fits was not stored")
}

// seedPayments creates what the captured notification's alerts name, as
// package target's golden test seeds them: the Deployment payments/api, its
// ReplicaSet and the crash-looping Pod.
func seedPayments(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "payments"}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	d := &metav1.PartialObjectMetadata{}
	d.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("Deployment"))
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "payments", Name: "api"}, d); err == nil {
		return
	}
	deployment := newObject(t, ctx, "payments", "Deployment", "apps/v1", "api", nil)
	rs := newObject(t, ctx, "payments", "ReplicaSet", "apps/v1", "api-7c9f6d5b8", deployment)
	newObject(t, ctx, "payments", "Pod", "v1", "api-7c9f6d5b8-x2x7q", rs)
}
