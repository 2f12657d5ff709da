package gateway_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/gateway"
	"github.com/rrguard/rrguard/gateway/httpapi"
	"github.com/rrguard/rrguard/gateway/pipeline"
	"github.com/rrguard/rrguard/gateway/signal"
	"github.com/rrguard/rrguard/test/gatewaytest"
	"github.com/rrguard/rrguard/test/testenv"
)

// GW-DEDUP-002: a cold gateway (no request before) gets five identical
// alerts at once and makes exactly one request, counting all five.
func TestGWDEDUP002FiveSimultaneousIdenticalAlertsMakeOneRequestCountedFive(t *testing.T) {
	ns := env.Namespace(t)
	audit := &testenv.Buffer{}
	gw := startGateway(t, ns, gatewaytest.Options{Audit: audit})
	body := alertmanagerPayload(alert("payments", "api"))

	const n = 5
	responses := hammer(t, []string{gw.URL}, n, body)

	codes := map[int]int{}
	names := map[string]bool{}
	for i, r := range responses {
		codes[r.Code]++
		s := r.signal(t)
		if s.RemediationRequest == nil {
			t.Fatalf("response %d names no request: %s", i, r.Body)
		}
		names[s.RemediationRequest.Name] = true
		if s.Fingerprint != fingerprintOf("payments", "api") {
			t.Errorf("response %d fingerprint %s, want %s", i, s.Fingerprint, fingerprintOf("payments", "api"))
		}
	}
	if codes[http.StatusCreated] != 1 || codes[http.StatusAccepted] != 4 {
		t.Errorf("status codes = %v, want one 201 and four 202", codes)
	}
	items := listRRs(t, ns)
	if len(items) != 1 {
		t.Fatalf("%d RemediationRequests, want exactly 1", len(items))
	}
	if len(names) != 1 || !names[items[0].Name] {
		t.Errorf("responses name %v, the stored request is %s", names, items[0].Name)
	}
	if got := items[0].Status.GetDeduplication().OccurrenceCount; got != n {
		t.Errorf("occurrenceCount = %d, want %d", got, n)
	}

	// One audit line per signal decision, none dropped.
	lines := audit.JSONLines(t)
	if len(lines) != n {
		t.Fatalf("%d audit lines, want %d", len(lines), n)
	}
	outcomes := map[any]int{}
	for _, l := range lines {
		outcomes[l["outcome"]]++
		if l["fingerprint"] != fingerprintOf("payments", "api") || l["remediationRequest"] != ns+"/"+items[0].Name ||
			l["occurrenceCount"] == nil || l["latencySeconds"] == nil || l["logger"] != "audit" {
			t.Errorf("audit line lacks the decision: %v", l)
		}
	}
	if outcomes["created"] != 1 || outcomes["duplicate"] != 4 {
		t.Errorf("audit outcomes = %v, want 1 created and 4 duplicate", outcomes)
	}
}

func TestAnActiveRequestInEveryPhaseIsCountedAndAnEndedOneReplaced(t *testing.T) {
	ns := env.Namespace(t)
	gw := startGateway(t, ns)
	phases := []v1alpha1.Phase{
		v1alpha1.PhasePending, v1alpha1.PhaseProcessing, v1alpha1.PhaseAnalyzing, v1alpha1.PhaseAwaitingApproval,
		v1alpha1.PhaseExecuting, v1alpha1.PhaseVerifying, v1alpha1.PhaseBlocked,
		v1alpha1.PhaseCompleted, v1alpha1.PhaseFailed, v1alpha1.PhaseTimedOut, v1alpha1.PhaseSkipped, v1alpha1.PhaseCancelled,
	}
	for _, phase := range phases {
		t.Run(string(phase), func(t *testing.T) {
			deployment := "web-" + strings.ToLower(string(phase))
			body := alertmanagerPayload(alert("shop", deployment))
			first, err := post(gw.URL, httpapi.PrometheusPath, "application/json", body)
			if err != nil || first.Code != http.StatusCreated {
				t.Fatalf("first alert: %v %d %s", err, first.Code, first.Body)
			}
			name := first.signal(t).RemediationRequest.Name
			testenv.MustSetPhase(t, env.Client, ns, name, phase)

			second, err := post(gw.URL, httpapi.PrometheusPath, "application/json", body)
			if err != nil {
				t.Fatal(err)
			}
			s := second.signal(t)
			fp := fingerprintOf("shop", deployment)
			stored, err := dedup.ListByFingerprint(context.Background(), env.Client, ns, fp)
			if err != nil {
				t.Fatal(err)
			}
			if dedup.IsTerminal(phase) {
				if second.Code != http.StatusCreated || s.RemediationRequest.Name == name || s.OccurrenceCount != 1 {
					t.Errorf("after %s: %d %s, want 201 with a new request counted once", phase, second.Code, second.Body)
				}
				if len(stored) != 2 {
					t.Errorf("after %s: %d requests, want the ended one and a new one", phase, len(stored))
				}
				return
			}
			if second.Code != http.StatusAccepted || s.RemediationRequest.Name != name || s.OccurrenceCount != 2 {
				t.Errorf("in %s: %d %s, want 202 counted on %s as the second occurrence", phase, second.Code, second.Body, name)
			}
			if len(stored) != 1 || stored[0].Status.GetDeduplication().OccurrenceCount != 2 || stored[0].Status.OverallPhase != phase {
				t.Errorf("in %s: stored %d requests, want 1 with count 2 and its phase kept", phase, len(stored))
			}
		})
	}
}

// blindReader misses every claim and every List, as a lookup that raced
// with a creation would: only Gets of RemediationRequests see the server.
type blindReader struct{ client.Reader }

func (b blindReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*coordinationv1.Lease); ok {
		return apierrors.NewNotFound(schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, key.Name)
	}
	return b.Reader.Get(ctx, key, obj, opts...)
}

func (blindReader) List(context.Context, client.ObjectList, ...client.ListOption) error { return nil }

func TestTheWebhookBackstopsALookupThatMissedAndTheSignalIsCountedOnTheHolder(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	fp := fingerprintOf("payments", "api")
	// Created directly, by kubectl or a script: the webhook admits it and
	// claims the fingerprint for it.
	holder := testenv.RemediationRequest(ns, "created-by-hand", fp)
	if err := env.Client.Create(ctx, holder); err != nil {
		t.Fatal(err)
	}

	url := servePipeline(t, blindReader{env.Client}, pipeline.Options{Namespace: ns})

	r, err := post(url, httpapi.PrometheusPath, "application/json", alertmanagerPayload(alert("payments", "api")))
	if err != nil {
		t.Fatal(err)
	}
	s := r.signal(t)
	if r.Code != http.StatusAccepted || s.Status != "duplicate" || s.RemediationRequest.Name != holder.Name || s.OccurrenceCount != 1 {
		t.Fatalf("response %d %s, want 202 duplicate counted once on %s", r.Code, r.Body, holder.Name)
	}
	items := listRRs(t, ns)
	if len(items) != 1 || items[0].Status.GetDeduplication().OccurrenceCount != 1 {
		t.Fatalf("stored %d requests (first count %d), want only the holder, counted once", len(items), items[0].Status.GetDeduplication().OccurrenceCount)
	}
}

func TestBadInputGetsAProblemAndWritesNothing(t *testing.T) {
	ns := env.Namespace(t)
	gw := startGateway(t, ns)
	valid := alertmanagerPayload(alert("payments", "api"))
	noTarget := alert("payments", "api")
	noTarget.Labels["cluster"] = "a:b"
	oversized := append(append([]byte(`{"version":"4","alerts":[],"padding":"`), bytes.Repeat([]byte("x"), 1<<20)...), `"}`...)

	tests := map[string]struct {
		path        string
		contentType string
		body        []byte
		code        int
		problem     string
	}{
		"malformed JSON":                    {body: []byte(`{"version":"4","alerts":[`), code: 400, problem: "invalid-payload"},
		"a JSON array instead of an object": {body: []byte(`[]`), code: 400, problem: "invalid-payload"},
		"trailing data after the payload":   {body: append(append([]byte{}, valid...), []byte(`{}`)...), code: 400, problem: "invalid-payload"},
		"a wrong payload version":           {body: bytes.Replace(valid, []byte(`"version":"4"`), []byte(`"version":"3"`), 1), code: 400, problem: "invalid-payload"},
		"no alerts":                         {body: alertmanagerPayload(), code: 400, problem: "invalid-payload"},
		"a body over --max-body-bytes":      {body: oversized, code: 413, problem: "payload-too-large"},
		"a wrong content type":              {contentType: "text/plain", body: valid, code: 415, problem: "unsupported-media-type"},
		"no content type":                   {contentType: "-", body: valid, code: 415, problem: "unsupported-media-type"},
		"an alert with an invalid cluster":  {body: alertmanagerPayload(noTarget), code: 400, problem: "invalid-payload"},
		"several alerts all invalid": {
			body: alertmanagerPayload(noTarget, func() signal.Alert { a := alert("p", "x"); a.Status = "pending"; return a }()),
			code: 400, problem: "invalid-payload",
		},
		"an event of an unknown type": {
			path: httpapi.KubernetesEventPath,
			body: []byte(`{"apiVersion":"v1","kind":"Event","type":"Error","reason":"BackOff","involvedObject":{"kind":"Pod","namespace":"p","name":"x"}}`),
			code: 400, problem: "invalid-payload",
		},
		"an event without an object": {
			path: httpapi.KubernetesEventPath,
			body: []byte(`{"apiVersion":"v1","kind":"Event","type":"Warning","reason":"BackOff"}`),
			code: 400, problem: "invalid-payload",
		},
		"an object of another kind": {
			path: httpapi.KubernetesEventPath,
			body: []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"}}`),
			code: 400, problem: "invalid-payload",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			path, ct := cmp.Or(tc.path, httpapi.PrometheusPath), cmp.Or(tc.contentType, "application/json")
			if ct == "-" {
				ct = ""
			}
			r, err := post(gw.URL, path, ct, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if r.Code != tc.code || r.ContentType != httpapi.ProblemContentType {
				t.Fatalf("got %d %q %s, want %d %s", r.Code, r.ContentType, r.Body, tc.code, httpapi.ProblemContentType)
			}
			p := r.problem(t)
			if !strings.HasSuffix(p.Type, "/"+tc.problem) || p.Status != tc.code || p.Title == "" || p.Detail == "" || p.Instance != path {
				t.Errorf("problem = %+v, want type .../%s with status %d, a title, a detail and the path", p, tc.problem, tc.code)
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

func TestIgnoredAndMixedPayloads(t *testing.T) {
	ns := env.Namespace(t)
	gw := startGateway(t, ns)
	resolved := alert("payments", "api")
	resolved.Status = signal.AlertResolved
	invalid := alert("payments", "api")
	invalid.Labels["cluster"] = "a:b"

	t.Run("a resolved alert is ignored and creates nothing", func(t *testing.T) {
		r, err := post(gw.URL, httpapi.PrometheusPath, "application/json", alertmanagerPayload(resolved))
		if err != nil {
			t.Fatal(err)
		}
		if s := r.signal(t); r.Code != http.StatusOK || s.Status != "ignored" || s.Reason == "" {
			t.Errorf("got %d %s, want 200 ignored with a reason", r.Code, r.Body)
		}
		if n := len(listRRs(t, ns)); n != 0 {
			t.Errorf("%d requests for a resolved alert", n)
		}
	})
	t.Run("a Normal event is ignored", func(t *testing.T) {
		body := `{"apiVersion":"events.k8s.io/v1","kind":"Event","type":"Normal","reason":"Scheduled","regarding":{"kind":"Pod","namespace":"p","name":"x"}}`
		r, err := post(gw.URL, httpapi.KubernetesEventPath, "application/json", []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if s := r.signal(t); r.Code != http.StatusOK || s.Status != "ignored" {
			t.Errorf("got %d %s, want 200 ignored", r.Code, r.Body)
		}
	})
	t.Run("several alerts get 207 with one result each and a summary", func(t *testing.T) {
		msg := signal.AlertmanagerMessage{}
		if err := json.Unmarshal(alertmanagerPayload(alert("payments", "api"), resolved, invalid, alert("payments", "worker"), alert("payments", "api")), &msg); err != nil {
			t.Fatal(err)
		}
		msg.TruncatedAlerts = 3
		body, _ := json.Marshal(msg)
		r, err := post(gw.URL, httpapi.PrometheusPath, "application/json", body)
		if err != nil {
			t.Fatal(err)
		}
		if r.Code != http.StatusMultiStatus {
			t.Fatalf("got %d %s, want 207", r.Code, r.Body)
		}
		var m httpapi.MultiStatusResponse
		if err := json.Unmarshal(r.Body, &m); err != nil {
			t.Fatal(err)
		}
		want := httpapi.Summary{Total: 5, Created: 2, Duplicate: 1, Ignored: 1, Rejected: 1}
		if m.Summary != want || len(m.Results) != 5 || m.TruncatedAlerts != 3 {
			t.Fatalf("summary %+v with %d results, truncated %d; want %+v, 5 results, 3", m.Summary, len(m.Results), m.TruncatedAlerts, want)
		}
		for i, res := range m.Results {
			if res.Index != i {
				t.Errorf("result %d has index %d", i, res.Index)
			}
		}
		if m.Results[1].Status != "ignored" || m.Results[2].Status != "rejected" || m.Results[2].Error == "" || m.Results[2].Code != 400 {
			t.Errorf("results 1 and 2 = %+v %+v, want ignored and rejected with its error", m.Results[1], m.Results[2])
		}
		api := []httpapi.AlertResult{m.Results[0], m.Results[4]}
		if api[0].RemediationRequest.Name != api[1].RemediationRequest.Name || api[0].OccurrenceCount+api[1].OccurrenceCount != 3 {
			t.Errorf("the two alerts about one deployment = %+v and %+v, want one request counting 1 and 2", api[0], api[1])
		}
		if n := len(listRRs(t, ns)); n != 2 {
			t.Errorf("%d requests, want 2 (api and worker)", n)
		}
	})
}

func TestAPodAlertIsCountedOnItsDeployment(t *testing.T) {
	ns := env.Namespace(t)
	target := env.Namespace(t)
	gw := startGateway(t, ns)
	ctx := context.Background()
	// A Deployment's chain as its controllers would leave it; no
	// controllers run here, so the test builds it.
	deployment := newObject(t, ctx, target, "Deployment", "apps/v1", "checkout", nil)
	rs := newObject(t, ctx, target, "ReplicaSet", "apps/v1", "checkout-5d9f8", deployment)
	newObject(t, ctx, target, "Pod", "v1", "checkout-5d9f8-x2x7q", rs)

	podAlert := alert(target, "")
	delete(podAlert.Labels, "deployment")
	podAlert.Labels["pod"] = "checkout-5d9f8-x2x7q"
	r1, err := post(gw.URL, httpapi.PrometheusPath, "application/json", alertmanagerPayload(podAlert))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := post(gw.URL, httpapi.PrometheusPath, "application/json", alertmanagerPayload(alert(target, "checkout")))
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := r1.signal(t), r2.signal(t)
	if r1.Code != http.StatusCreated || r2.Code != http.StatusAccepted || s1.RemediationRequest.Name != s2.RemediationRequest.Name {
		t.Fatalf("pod alert %d %s, deployment alert %d %s; want one request, created then counted", r1.Code, r1.Body, r2.Code, r2.Body)
	}
	rr := listRRs(t, ns)[0]
	if rr.Spec.TargetResource.Kind != "Deployment" || rr.Spec.TargetResource.Name != "checkout" {
		t.Errorf("target = %+v, want the Deployment", rr.Spec.TargetResource)
	}
}

func TestReadinessNeedsTheAPIServer(t *testing.T) {
	ns := env.Namespace(t)
	req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
	if err := gateway.APIServerCheck(env.Client, ns)(req); err != nil {
		t.Errorf("check with the API server up: %v", err)
	}
	down := rest.CopyConfig(env.Config)
	down.Host = "https://127.0.0.1:1"
	c, err := client.New(down, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := gateway.APIServerCheck(c, ns)(req); err == nil {
		t.Error("check passed with the API server unreachable")
	}
}

func TestTokenReviewAuthentication(t *testing.T) {
	ns := env.Namespace(t)
	gw := startGateway(t, ns, gatewaytest.Options{Auth: gateway.AuthTokenReview})
	token := func(sa string, audiences ...string) string { return serviceAccountToken(t, ns, sa, audiences...) }
	allowed, denied := token("alertmanager", httpapi.DefaultAudience), token("someone-else", httpapi.DefaultAudience)
	// The same sender's token for the API server: a working cluster
	// credential, which the gateway must not accept, nor make one of.
	clusterToken, otherAudience := token("alertmanager"), token("alertmanager", "vault")
	grantSignals(t, ns, "alertmanager")

	body := alertmanagerPayload(alert("payments", "api"))
	tests := []struct {
		name    string
		header  []string
		code    int
		problem string
	}{
		{name: "no token is unauthenticated", code: 401, problem: "unauthenticated"},
		{name: "a token the API server does not know is unauthenticated", header: []string{"Authorization", "Bearer not-a-token"}, code: 401, problem: "unauthenticated"},
		{name: "another scheme is unauthenticated", header: []string{"Authorization", "Basic YWxpY2U6c2VjcmV0"}, code: 401, problem: "unauthenticated"},
		{name: "the sender's token for the API server's audience is unauthenticated", header: []string{"Authorization", "Bearer " + clusterToken}, code: 401, problem: "unauthenticated"},
		{name: "the sender's token for another audience is unauthenticated", header: []string{"Authorization", "Bearer " + otherAudience}, code: 401, problem: "unauthenticated"},
		{name: "a service account without the RBAC grant is forbidden", header: []string{"Authorization", "Bearer " + denied}, code: 403, problem: "forbidden"},
		{name: "a service account granted post on the URL is served", header: []string{"Authorization", "Bearer " + allowed}, code: 201},
		{name: "a second request is served from the cached review", header: []string{"Authorization", "Bearer " + allowed}, code: 202},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := post(gw.URL, httpapi.PrometheusPath, "application/json", body, tc.header...)
			if err != nil {
				t.Fatal(err)
			}
			if r.Code != tc.code {
				t.Fatalf("got %d %s, want %d", r.Code, r.Body, tc.code)
			}
			if tc.problem != "" {
				if p := r.problem(t); r.ContentType != httpapi.ProblemContentType || !strings.HasSuffix(p.Type, "/"+tc.problem) {
					t.Errorf("problem %q %+v, want type .../%s", r.ContentType, p, tc.problem)
				}
			}
		})
	}
	if n := len(listRRs(t, ns)); n != 1 {
		t.Errorf("%d requests, want 1 (only the authorized sender's)", n)
	}
}

// newObject creates a bare object of kind through the unstructured client,
// controlled by owner when set.
func newObject(t *testing.T, ctx context.Context, ns, kind, apiVersion, name string, owner *metav1.PartialObjectMetadata) *metav1.PartialObjectMetadata {
	t.Helper()
	var obj client.Object
	switch kind {
	case "Deployment", "ReplicaSet":
		labels := map[string]string{"app": "checkout"}
		spec := map[string]any{
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "app", "image": "registry.example/app:1"}}},
			},
		}
		obj = unstructuredObject(apiVersion, kind, ns, name, spec)
	case "Pod":
		obj = &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}},
		}
	default:
		t.Fatalf("newObject: kind %s", kind)
	}
	if owner != nil {
		obj.SetOwnerReferences([]metav1.OwnerReference{{
			APIVersion: owner.APIVersion, Kind: owner.Kind, Name: owner.Name, UID: owner.UID, Controller: ptr.To(true),
		}})
	}
	if err := env.Client.Create(ctx, obj); err != nil {
		t.Fatalf("create %s %s: %v", kind, name, err)
	}
	meta := &metav1.PartialObjectMetadata{}
	meta.APIVersion, meta.Kind = apiVersion, kind
	meta.Name, meta.Namespace, meta.UID = obj.GetName(), ns, obj.GetUID()
	return meta
}

func unstructuredObject(apiVersion, kind, ns, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

func TestAnUnreachableWebhookIsA503WithRetryAfterAndNothingCounted(t *testing.T) {
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "rrguard-dead-webhook-", Labels: map[string]string{"rrguard.test/dead-webhook": "true"}}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	// A second, failing-closed webhook on this namespace only, served by
	// nobody: the API server cannot admit any create here.
	dead := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "rrguard-dead-"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    "dead.rrguard.test",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: ptr.To("https://127.0.0.1:1/validate")},
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create}, Rule: admissionregistrationv1.Rule{APIGroups: []string{"kubernaut.ai"}, APIVersions: []string{"v1alpha1"}, Resources: []string{"remediationrequests"}}}},
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"rrguard.test/dead-webhook": "true"}},
		}},
	}
	if err := env.Client.Create(ctx, dead); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), dead) })
	gw := startGateway(t, ns.Name)

	// The API server learns of a new webhook configuration within a
	// moment; until then a create may still pass.
	var r response
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		var err error
		r, err = post(gw.URL, httpapi.PrometheusPath, "application/json", alertmanagerPayload(alert("payments", fmt.Sprintf("api-%d", i))))
		if err != nil {
			t.Fatal(err)
		}
		if r.Code != http.StatusCreated || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r.Code != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Fatalf("got %d (Retry-After %q) %s, want 503 with Retry-After", r.Code, r.Header.Get("Retry-After"), r.Body)
	}
	p := r.problem(t)
	if !strings.HasSuffix(p.Type, "/unavailable") || !strings.Contains(p.Detail, "dead.rrguard.test") {
		t.Errorf("problem %+v, want unavailable naming the failing webhook", p)
	}
	counted := int64(0)
	for _, rr := range listRRs(t, ns.Name) {
		counted += int64(rr.Status.GetDeduplication().OccurrenceCount)
	}
	created := int64(len(listRRs(t, ns.Name)))
	if counted != created {
		t.Errorf("%d requests count %d signals: only the ones answered 201 before the webhook took effect may be counted", created, counted)
	}
}

// gatedReader holds every claim lookup until the gate opens, so that a
// request is surely in flight.
type gatedReader struct {
	client.Reader
	entered chan struct{}
	gate    chan struct{}
}

func (g *gatedReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*coordinationv1.Lease); ok {
		select {
		case g.entered <- struct{}{}:
		default:
		}
		<-g.gate
	}
	return g.Reader.Get(ctx, key, obj, opts...)
}

func TestShutdownDrainsInFlightRequests(t *testing.T) {
	ns := env.Namespace(t)
	reader := &gatedReader{Reader: env.Client, entered: make(chan struct{}, 1), gate: make(chan struct{})}
	gw := startGateway(t, ns, gatewaytest.Options{Reader: reader})

	type result struct {
		r   response
		err error
	}
	inflight := make(chan result, 1)
	go func() {
		r, err := post(gw.URL, httpapi.PrometheusPath, "application/json", alertmanagerPayload(alert("payments", "api")))
		inflight <- result{r, err}
	}()
	<-reader.entered // the request is counting

	stopped := make(chan error, 1)
	go func() { stopped <- gw.Stop() }()
	// The server stops accepting while the request is still in flight.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := http.Get(gw.URL + "/")
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the gateway still accepts connections after shutdown began")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-stopped:
		t.Fatalf("the manager stopped (%v) with a request in flight", err)
	default:
	}

	close(reader.gate)
	res := <-inflight
	if res.err != nil || res.r.Code != http.StatusCreated {
		t.Fatalf("in-flight request got %v %d %s, want 201", res.err, res.r.Code, res.r.Body)
	}
	if err := <-stopped; err != nil {
		t.Errorf("manager stopped with %v", err)
	}
	if items := listRRs(t, ns); len(items) != 1 || items[0].Status.GetDeduplication().OccurrenceCount != 1 {
		t.Errorf("stored %d requests, want 1 counting the drained signal", len(items))
	}
}

// workloadReads records the gateway's requests for Pods and ReplicaSets and
// what the API server answered.
type workloadReads struct {
	testenv.Recorder[workloadRead]
}

type workloadRead struct {
	method, path, accept string
	body                 []byte
}

// wrap is for rest.Config.Wrap.
func (w *workloadReads) wrap(rt http.RoundTripper) http.RoundTripper {
	return testenv.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		if err != nil || !strings.Contains(req.URL.Path, "/pods") && !strings.Contains(req.URL.Path, "/replicasets") {
			return resp, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		w.Add(workloadRead{req.Method, req.URL.Path, req.Header.Get("Accept"), body})
		return resp, nil
	})
}

// RBAC can grant "get" on Pods, not "get their metadata": the gateway's
// least privilege there is in what it asks for. Climbing from a Pod to its
// Deployment, it gets one named object at a time as PartialObjectMetadata,
// so a Pod's spec — its environment, with whatever secrets are in it —
// never reaches the gateway.
func TestTheGatewayReadsOnlyTheMetadataOfWorkloads(t *testing.T) {
	ns, target := env.Namespace(t), env.Namespace(t)
	reads := &workloadReads{}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(reads.wrap)
	gw := startGateway(t, ns, gatewaytest.Options{Config: cfg})
	ctx := context.Background()
	deployment := newObject(t, ctx, target, "Deployment", "apps/v1", "checkout", nil)
	rs := newObject(t, ctx, target, "ReplicaSet", "apps/v1", "checkout-5d9f8", deployment)
	pod := newObject(t, ctx, target, "Pod", "v1", "checkout-5d9f8-x2x7q", rs)
	full := &corev1.Pod{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: target, Name: pod.Name}, full); err != nil {
		t.Fatal(err)
	}
	full.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "DB_PASSWORD", Value: "hunter2"}}
	if err := env.Client.Delete(ctx, full); err != nil {
		t.Fatal(err)
	}
	full.ResourceVersion, full.UID = "", ""
	if err := env.Client.Create(ctx, full); err != nil {
		t.Fatal(err)
	}

	podAlert := alert(target, "")
	delete(podAlert.Labels, "deployment")
	podAlert.Labels["pod"] = pod.Name
	r, err := post(gw.URL, httpapi.PrometheusPath, "application/json", alertmanagerPayload(podAlert))
	if err != nil || r.Code != http.StatusCreated {
		t.Fatalf("pod alert: %v %d %s, want 201", err, r.Code, r.Body)
	}
	if rr := listRRs(t, ns); len(rr) != 1 || rr[0].Spec.TargetResource.Name != "checkout" {
		t.Fatalf("RRs %+v, want one for the Deployment", rr)
	}
	got := reads.Take()
	if len(got) != 2 {
		t.Errorf("%d reads of Pods and ReplicaSets, want 2 (the Pod, its ReplicaSet): %+v", len(got), got)
	}
	for _, rd := range got {
		if rd.method != http.MethodGet || !strings.Contains(rd.accept, "as=PartialObjectMetadata") {
			t.Errorf("%s %s with Accept %q, want a GET of metadata only", rd.method, rd.path, rd.accept)
		}
		if bytes.Contains(rd.body, []byte("hunter2")) || bytes.Contains(rd.body, []byte(`"spec"`)) {
			t.Errorf("%s answered with the object's spec: %s", rd.path, rd.body)
		}
	}
}
