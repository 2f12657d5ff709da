package v1alpha1_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.Options{}, func(e *testenv.Env) { env = e })
}

func fingerprint(t testing.TB, name string) string {
	t.Helper()
	fp, err := dedup.Fingerprint(dedup.Target{Namespace: "ns", Kind: "Deployment", Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

func newRR(ns, name, fp string) *v1alpha1.RemediationRequest {
	return &v1alpha1.RemediationRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.RemediationRequestSpec{
			SignalFingerprint: fp,
			SignalName:        "KubePodCrashLooping",
			Severity:          "critical",
			SignalType:        "prometheus",
			TargetType:        "kubernetes",
			TargetResource:    v1alpha1.ResourceIdentifier{Kind: "Deployment", Name: "api", Namespace: ns, APIVersion: "apps/v1"},
			SignalLabels:      map[string]string{"alertname": "KubePodCrashLooping"},
			OriginalPayload:   []byte(`{"version":"4"}`),
		},
	}
}

func TestCRDIsInstalledWithItsContract(t *testing.T) {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: "remediationrequests.kubernaut.ai"}, crd); err != nil {
		t.Fatalf("get CRD: %v", err)
	}
	if got := crd.Spec.Names.ShortNames; len(got) != 1 || got[0] != "rr" {
		t.Errorf("short names = %v, want [rr]", got)
	}
	v := crd.Spec.Versions[0]
	if v.Subresources == nil || v.Subresources.Status == nil {
		t.Error("status subresource missing")
	}
	var selectable []string
	for _, f := range v.SelectableFields {
		selectable = append(selectable, f.JSONPath)
	}
	if want := ".spec.signalFingerprint,.spec.signalName,.spec.severity"; strings.Join(selectable, ",") != want {
		t.Errorf("selectable fields = %v, want %s", selectable, want)
	}
	cols := map[string]apiextensionsv1.CustomResourceColumnDefinition{}
	for _, c := range v.AdditionalPrinterColumns {
		cols[c.Name] = c
	}
	for name, path := range map[string]string{
		"Phase": ".status.overallPhase", "Signal": ".spec.signalName", "Severity": ".spec.severity",
		"Occurrences": ".status.deduplication.occurrenceCount", "Age": ".metadata.creationTimestamp",
		"Fingerprint": ".spec.signalFingerprint",
	} {
		if cols[name].JSONPath != path {
			t.Errorf("printer column %s = %q, want %q", name, cols[name].JSONPath, path)
		}
	}
	if cols["Fingerprint"].Priority != 1 {
		t.Errorf("Fingerprint column priority = %d, want 1", cols["Fingerprint"].Priority)
	}
}

func TestCreateAndReadBack(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	rr := newRR(ns, "rr-1", fingerprint(t, "api"))
	if err := env.Client.Create(ctx, rr); err != nil {
		t.Fatalf("create: %v", err)
	}
	rr.Status.OverallPhase = v1alpha1.PhaseProcessing
	rr.Status.Deduplication = v1alpha1.DeduplicationStatus{FirstSeenAt: &rr.CreationTimestamp, LastSeenAt: &rr.CreationTimestamp, OccurrenceCount: 3}
	if err := env.Client.Status().Update(ctx, rr); err != nil {
		t.Fatalf("status update: %v", err)
	}
	got := &v1alpha1.RemediationRequest{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(rr), got); err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.Spec.SignalFingerprint != rr.Spec.SignalFingerprint || got.Spec.TargetResource != rr.Spec.TargetResource ||
		string(got.Spec.OriginalPayload) != `{"version":"4"}` || got.Spec.SignalLabels["alertname"] != "KubePodCrashLooping" {
		t.Errorf("spec read back = %+v, want %+v", got.Spec, rr.Spec)
	}
	if got.Status.OverallPhase != v1alpha1.PhaseProcessing || got.Status.Deduplication.OccurrenceCount != 3 {
		t.Errorf("status read back = %+v", got.Status)
	}
}

func TestSchemaRefusesBadFingerprints(t *testing.T) {
	ns := env.Namespace(t)
	good := fingerprint(t, "api")
	tests := map[string]string{
		"upper-case hex":      strings.ToUpper(good),
		"63 characters":       good[:63],
		"65 characters":       good + "a",
		"a non-hex character": "z" + good[1:],
		"empty":               "",
	}
	for name, fp := range tests {
		t.Run(name, func(t *testing.T) {
			err := env.Client.Create(context.Background(), newRR(ns, "bad-"+strings.ReplaceAll(name, " ", "-"), fp))
			if !apierrors.IsInvalid(err) {
				t.Fatalf("create with fingerprint %q: err = %v, want Invalid", fp, err)
			}
			if !strings.Contains(err.Error(), "spec.signalFingerprint") {
				t.Errorf("error %q does not name spec.signalFingerprint", err)
			}
		})
	}
}

func TestCELRefusesFingerprintChange(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	rr := newRR(ns, "immutable", fingerprint(t, "api"))
	if err := env.Client.Create(ctx, rr); err != nil {
		t.Fatalf("create: %v", err)
	}
	rr.Spec.SignalFingerprint = fingerprint(t, "other")
	err := env.Client.Update(ctx, rr)
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "signalFingerprint is immutable") {
		t.Fatalf("update of fingerprint: err = %v, want Invalid with the CEL message", err)
	}
	// Other spec fields stay mutable: the rule guards the fingerprint only.
	rr.Spec.SignalFingerprint = fingerprint(t, "api")
	rr.Spec.Severity = "warning"
	if err := env.Client.Update(ctx, rr); err != nil {
		t.Fatalf("update of severity: %v", err)
	}
}

func TestFieldSelectorThroughUncachedReader(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	const fingerprints, each = 20, 10
	fps := make([]string, fingerprints)
	for i := range fps {
		fps[i] = fingerprint(t, fmt.Sprintf("workload-%d", i))
		for j := range each {
			if err := env.Client.Create(ctx, newRR(ns, fmt.Sprintf("rr-%d-%d", i, j), fps[i])); err != nil {
				t.Fatalf("create: %v", err)
			}
		}
	}
	// env.Client is client.New: every List below is a request to the API
	// server, filtered there by the selectable field.
	for i, fp := range fps {
		list := &v1alpha1.RemediationRequestList{}
		if err := env.Client.List(ctx, list, client.InNamespace(ns),
			client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector(v1alpha1.FingerprintField, fp)}); err != nil {
			t.Fatalf("list by fingerprint: %v", err)
		}
		if len(list.Items) != each {
			t.Errorf("fingerprint %d: %d items, want %d", i, len(list.Items), each)
		}
		for _, rr := range list.Items {
			if rr.Spec.SignalFingerprint != fp || !strings.HasPrefix(rr.Name, fmt.Sprintf("rr-%d-", i)) {
				t.Errorf("fingerprint %d: got %s with %s", i, rr.Name, rr.Spec.SignalFingerprint)
			}
		}
	}
	// The shared core's lookup uses the same selector.
	items, err := dedup.ListByFingerprint(ctx, env.Client, ns, fps[7])
	if err != nil || len(items) != each {
		t.Fatalf("dedup.ListByFingerprint: %d items, err %v; want %d", len(items), err, each)
	}
	// A field that is not selectable is refused by the server, not ignored.
	err = env.Client.List(ctx, &v1alpha1.RemediationRequestList{}, client.InNamespace(ns),
		client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("spec.clusterID", "x")})
	if !apierrors.IsBadRequest(err) {
		t.Errorf("list by a non-selectable field: err = %v, want BadRequest", err)
	}
}
