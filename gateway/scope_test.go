package gateway_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rrguard/rrguard/gateway/httpapi"
	"github.com/rrguard/rrguard/gateway/scope"
	"github.com/rrguard/rrguard/gateway/signal"
	"github.com/rrguard/rrguard/test/gatewaytest"
	"github.com/rrguard/rrguard/test/testenv"
)

// labelManaged sets kubernaut's managed label of obj to value.
func labelManaged(t *testing.T, obj *metav1.PartialObjectMetadata, value string) {
	t.Helper()
	patch := fmt.Appendf(nil, `{"metadata":{"labels":{%q:%q}}}`, scope.ManagedLabel, value)
	if err := env.Client.Patch(context.Background(), obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatalf("label %s %s: %v", obj.Kind, obj.Name, err)
	}
}

// scopedNamespace creates a namespace labelled managed=value (none when
// empty).
func scopedNamespace(t *testing.T, value string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "scope-"}}
	if value != "" {
		ns.Labels = map[string]string{scope.ManagedLabel: value}
	}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func podAlert(ns, pod string) signal.Alert {
	a := alert(ns, "")
	a.Labels = map[string]string{"alertname": "KubePodCrashLooping", "severity": "warning", "namespace": ns, "pod": pod}
	return a
}

// With --require-managed-label the gateway counts only signals whose
// resolved target is in kubernaut's management scope, as kubernaut's
// gateway decides it; the others are answered 200 ignored with the reason,
// in the answer and the audit line, and nothing is written for them.
// Without the flag (the default) every signal counts.
func TestRequireManagedLabel(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	audit := &testenv.Buffer{}
	gw := startGateway(t, ns, gatewaytest.Options{RequireManagedLabel: true, Audit: audit})
	plain := startGateway(t, env.Namespace(t))
	managedNS, unlabelledNS, refusedNS := scopedNamespace(t, "true"), scopedNamespace(t, ""), scopedNamespace(t, "false")

	optedOut := newObject(t, ctx, managedNS, "Deployment", "apps/v1", "opted-out", nil)
	labelManaged(t, optedOut, "false")
	optedIn := newObject(t, ctx, unlabelledNS, "Deployment", "apps/v1", "opted-in", nil)
	labelManaged(t, optedIn, "true")
	// A Pod is decided by its top-level controller, as kubernaut decides
	// it: a Pod labelled true of a Deployment labelled false is out.
	rs := newObject(t, ctx, managedNS, "ReplicaSet", "apps/v1", "opted-out-5d8f7", optedOut)
	pod := newObject(t, ctx, managedNS, "Pod", "v1", "opted-out-5d8f7-x2x4z", rs)
	labelManaged(t, pod, "true")
	federated := alert(managedNS, "api")
	federated.Labels["cluster"] = "prod-eu"
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{GenerateName: "worker-"}}
	if err := env.Client.Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), node) })

	tests := []struct {
		name    string
		path    string
		body    []byte
		counted bool
		reason  string
	}{
		{name: "a workload in a managed namespace", body: alertmanagerPayload(alert(managedNS, "api")), counted: true},
		{name: "a workload labelled true in an unlabelled namespace", body: alertmanagerPayload(alert(unlabelledNS, "opted-in")), counted: true},
		{name: "a workload in an unlabelled namespace", body: alertmanagerPayload(alert(unlabelledNS, "api")), reason: "kubectl label namespace " + unlabelledNS + " kubernaut.ai/managed=true"},
		{name: "a workload in a refused namespace", body: alertmanagerPayload(alert(refusedNS, "api")), reason: "namespace " + refusedNS + " is labelled kubernaut.ai/managed=false"},
		{name: "a workload labelled false in a managed namespace", body: alertmanagerPayload(alert(managedNS, "opted-out")), reason: "Deployment " + managedNS + "/opted-out is labelled kubernaut.ai/managed=false"},
		{name: "a Pod labelled true of a workload labelled false", body: alertmanagerPayload(podAlert(managedNS, pod.Name)), reason: "Deployment " + managedNS + "/opted-out is labelled kubernaut.ai/managed=false"},
		{name: "a federated alert: its cluster's labels are not read here", body: alertmanagerPayload(federated), reason: `is in cluster "prod-eu"`},
		{
			name: "an unlabelled Node's event", path: httpapi.KubernetesEventPath,
			body:   fmt.Appendf(nil, `{"type":"Warning","reason":"NodeNotReady","involvedObject":{"kind":"Node","name":%q,"namespace":%q}}`, node.Name, managedNS),
			reason: "a cluster-scoped object inherits no namespace's scope",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := cmp.Or(tc.path, httpapi.PrometheusPath)
			r, err := post(gw.URL, path, "application/json", tc.body)
			if err != nil {
				t.Fatal(err)
			}
			s := r.signal(t)
			switch {
			case tc.counted && r.Code != http.StatusCreated:
				t.Errorf("got %d %s, want 201", r.Code, r.Body)
			case !tc.counted && (r.Code != http.StatusOK || s.Status != "ignored" || !strings.Contains(s.Reason, tc.reason) || s.Fingerprint == ""):
				t.Errorf("got %d %s, want 200 ignored with its fingerprint and a reason naming %q", r.Code, r.Body, tc.reason)
			}
			// The default counts it whatever its labels (the Pod on its
			// Deployment's request, made by the case before).
			if r, err := post(plain.URL, path, "application/json", tc.body); err != nil || (r.Code != http.StatusCreated && r.Code != http.StatusAccepted) {
				t.Errorf("without the flag: got %d %s (%v), want it counted", r.Code, r.Body, err)
			}
		})
	}
	if n := len(listRRs(t, ns)); n != 2 {
		t.Errorf("%d requests, want the 2 in scope", n)
	}
	ignored := 0
	for _, l := range audit.JSONLines(t) {
		if l["outcome"] == "ignored" {
			ignored++
			if r, _ := l["reason"].(string); !strings.HasPrefix(r, "not in kubernaut's management scope: ") || l["fingerprint"] == nil {
				b, _ := json.Marshal(l)
				t.Errorf("audit line %s: want the fingerprint and the scope's reason", b)
			}
		}
	}
	if ignored != 6 {
		t.Errorf("%d ignored audit lines, want 6", ignored)
	}
}
