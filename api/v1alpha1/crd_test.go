package v1alpha1_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/test/testenv"
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

// filledRR is testenv.RemediationRequest with the optional fields kubernaut's
// gateway fills set too (labels, provider data, payload), for the schema to
// store as given.
func filledRR(ns, name, fp string) *v1alpha1.RemediationRequest {
	rr := testenv.RemediationRequest(ns, name, fp)
	rr.Spec.SignalLabels = map[string]string{"alertname": "KubePodCrashLooping"}
	rr.Spec.ProviderData = `{"namespace":"payments","labels":{"alertname":"KubePodCrashLooping"}}`
	rr.Spec.OriginalPayload = `{"version":"4"}`
	return rr
}

// stored creates a filledRR named name in a fresh namespace.
func stored(t *testing.T, name string) *v1alpha1.RemediationRequest {
	t.Helper()
	rr := filledRR(env.Namespace(t), name, fingerprint(t, "api"))
	if err := env.Client.Create(context.Background(), rr); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return rr
}

func getCRD(t *testing.T) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: "remediationrequests.kubernaut.ai"}, crd); err != nil {
		t.Fatalf("get CRD: %v", err)
	}
	return crd
}

func TestCRDIsInstalledWithItsContract(t *testing.T) {
	crd := getCRD(t)
	if got := crd.Spec.Names.ShortNames; len(got) != 1 || got[0] != "rr" {
		t.Errorf("short names = %v, want [rr]", got)
	}
	v := crd.Spec.Versions[0]
	if v.Subresources == nil || v.Subresources.Status == nil {
		t.Error("status subresource missing")
	}
	// kubernaut's selectable fields, so that a field selector that works
	// here works against kubernaut's CRD too.
	var selectable []string
	for _, f := range v.SelectableFields {
		selectable = append(selectable, f.JSONPath)
	}
	if want := ".spec.signalFingerprint,.spec.signalType,.spec.severity,.spec.clusterID"; strings.Join(selectable, ",") != want {
		t.Errorf("selectable fields = %v, want %s", selectable, want)
	}
	cols := map[string]apiextensionsv1.CustomResourceColumnDefinition{}
	for _, c := range v.AdditionalPrinterColumns {
		cols[c.Name] = c
	}
	for name, path := range map[string]string{
		"Phase": ".status.overallPhase", "Outcome": ".status.completionStatus.outcome", "Alert": ".spec.signalName",
		"Occurrences": ".status.deduplication.occurrenceCount", "Age": ".metadata.creationTimestamp",
		"Cluster": ".spec.clusterID", "Source": ".spec.signalSource", "Signal NS": ".spec.targetResource.namespace",
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

// kubernautSchema is kubernaut's RemediationRequest schema (commit d5a4a870,
// config/crd/bases/kubernaut.ai_remediationrequests.yaml) for every field
// this API declares, one line per field in the form schemaFacts writes.
// Fields of kubernaut's that this API leaves out are not listed: they are
// what makes this API a subset.
var kubernautSchema = map[string]string{
	"":                                          "object",
	"spec":                                      "object required=firingTime,receivedTime,severity,signalFingerprint,signalName,signalType,targetResource,targetType cel=self == oldSelf",
	"spec.clusterID":                            "string max=253",
	"spec.firingTime":                           "string format=date-time",
	"spec.originalPayload":                      "string",
	"spec.providerData":                         "string",
	"spec.receivedTime":                         "string format=date-time",
	"spec.severity":                             "string min=1 max=50",
	"spec.signalAnnotations":                    "object values=string",
	"spec.signalFingerprint":                    "string max=64 pattern=^[a-f0-9]{64}$ cel=self == oldSelf",
	"spec.signalLabels":                         "object values=string",
	"spec.signalName":                           "string max=253",
	"spec.signalSource":                         "string max=63",
	"spec.signalType":                           "string",
	"spec.targetResource":                       "object required=kind,name",
	"spec.targetResource.apiVersion":            "string",
	"spec.targetResource.kind":                  "string",
	"spec.targetResource.name":                  "string",
	"spec.targetResource.namespace":             "string",
	"spec.targetType":                           "string enum=kubernetes,aws,azure,gcp,datadog",
	"status":                                    "object",
	"status.completionStatus":                   "object",
	"status.completionStatus.outcome":           "string enum=Remediated,NoActionRequired,ManualReviewRequired,VerificationTimedOut,Inconclusive,DryRun",
	"status.deduplication":                      "object",
	"status.deduplication.firstSeenAt":          "string format=date-time",
	"status.deduplication.lastSeenAt":           "string format=date-time",
	"status.deduplication.occurrenceCount":      "integer format=int32",
	"status.overallPhase":                       "string enum=Pending,Processing,Analyzing,AwaitingApproval,Executing,Verifying,Blocked,Completed,Failed,TimedOut,Skipped,Cancelled",
	"status.routingStatus":                      "object",
	"status.routingStatus.nextAllowedExecution": "string format=date-time",
}

// schemaFacts writes down what a schema node validates: its type and every
// constraint, the descriptions left out.
func schemaFacts(s apiextensionsv1.JSONSchemaProps) string {
	facts := []string{s.Type}
	if s.Format != "" {
		facts = append(facts, "format="+s.Format)
	}
	if s.MinLength != nil {
		facts = append(facts, fmt.Sprintf("min=%d", *s.MinLength))
	}
	if s.MaxLength != nil {
		facts = append(facts, fmt.Sprintf("max=%d", *s.MaxLength))
	}
	if s.Minimum != nil || s.Maximum != nil {
		facts = append(facts, fmt.Sprintf("range=%v..%v", s.Minimum, s.Maximum))
	}
	if s.Pattern != "" {
		facts = append(facts, "pattern="+s.Pattern)
	}
	if len(s.Enum) > 0 {
		var values []string
		for _, e := range s.Enum {
			values = append(values, strings.Trim(string(e.Raw), `"`))
		}
		facts = append(facts, "enum="+strings.Join(values, ","))
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		facts = append(facts, "values="+s.AdditionalProperties.Schema.Type)
	}
	if len(s.Required) > 0 {
		r := slices.Clone(s.Required)
		slices.Sort(r)
		facts = append(facts, "required="+strings.Join(r, ","))
	}
	for _, v := range s.XValidations {
		facts = append(facts, "cel="+v.Rule)
	}
	return strings.Join(facts, " ")
}

// Every field this API declares is kubernaut's, with kubernaut's type and
// validation, so that whatever rrguard writes kubernaut's CRD accepts, and
// whatever kubernaut's CRD accepts rrguard's does too.
func TestSchemaIsAFaithfulSubsetOfKubernauts(t *testing.T) {
	schema := getCRD(t).Spec.Versions[0].Schema.OpenAPIV3Schema
	seen := map[string]bool{}
	var walk func(path string, s apiextensionsv1.JSONSchemaProps)
	walk = func(path string, s apiextensionsv1.JSONSchemaProps) {
		seen[path] = true
		want, ok := kubernautSchema[path]
		switch {
		case !ok:
			t.Errorf("%s: declared here, but kubernaut's RemediationRequest has no such field", path)
		case schemaFacts(s) != want:
			t.Errorf("%s: validates %q, kubernaut's %q", path, schemaFacts(s), want)
		}
		for name, child := range s.Properties {
			if path == "" && (name == "apiVersion" || name == "kind" || name == "metadata") {
				continue
			}
			walk(strings.TrimPrefix(path+"."+name, "."), child)
		}
	}
	walk("", *schema)
	for path := range kubernautSchema {
		if !seen[path] {
			t.Errorf("%s: missing from the schema", path)
		}
	}
}

func TestCreateAndReadBack(t *testing.T) {
	ctx := context.Background()
	rr := stored(t, "rr-1")
	rr.Status.OverallPhase = v1alpha1.PhaseProcessing
	rr.Status.Deduplication = &v1alpha1.DeduplicationStatus{FirstSeenAt: &rr.CreationTimestamp, LastSeenAt: &rr.CreationTimestamp, OccurrenceCount: 3}
	if err := env.Client.Status().Update(ctx, rr); err != nil {
		t.Fatalf("status update: %v", err)
	}
	got := &v1alpha1.RemediationRequest{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(rr), got); err != nil {
		t.Fatalf("get: %v", err)
	}
	if !equality.Semantic.DeepEqual(got.Spec, rr.Spec) {
		t.Errorf("spec read back = %+v, want %+v", got.Spec, rr.Spec)
	}
	if got.Status.OverallPhase != v1alpha1.PhaseProcessing || got.Status.GetDeduplication().OccurrenceCount != 3 {
		t.Errorf("status read back = %+v", got.Status)
	}
	// The payload is stored as the text it is, not base64: what a
	// consumer of kubernaut's string field reads.
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("RemediationRequest"))
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(rr), u); err != nil {
		t.Fatal(err)
	}
	if p, _, _ := unstructured.NestedString(u.Object, "spec", "originalPayload"); p != `{"version":"4"}` {
		t.Errorf("stored originalPayload = %q, want the JSON text", p)
	}
}

// A status that sets only the deduplication counts marshals to exactly
// status.deduplication: as a merge patch it touches nothing else.
func TestAStatusOfOnlyDeduplicationIsAPatchOfOnlyDeduplication(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 11, 26, 4, 58, 12, 0, time.UTC))
	b, err := json.Marshal(v1alpha1.RemediationRequest{Status: v1alpha1.RemediationRequestStatus{
		Deduplication: &v1alpha1.DeduplicationStatus{FirstSeenAt: &at, LastSeenAt: &at, OccurrenceCount: 2},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	status, _ := doc["status"].(map[string]any)
	if len(status) != 1 || status["deduplication"] == nil {
		t.Errorf("status = %s, want only deduplication", b)
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
			err := env.Client.Create(context.Background(), filledRR(ns, "bad-"+strings.ReplaceAll(name, " ", "-"), fp))
			if !apierrors.IsInvalid(err) {
				t.Fatalf("create with fingerprint %q: err = %v, want Invalid", fp, err)
			}
			if !strings.Contains(err.Error(), "spec.signalFingerprint") {
				t.Errorf("error %q does not name spec.signalFingerprint", err)
			}
		})
	}
}

// over returns a change that sets the field at to one character more than
// limit.
func over(limit int, at func(*v1alpha1.RemediationRequestSpec) *string) func(*v1alpha1.RemediationRequest) {
	return func(rr *v1alpha1.RemediationRequest) { *at(&rr.Spec) = strings.Repeat("x", limit+1) }
}

// The schema refuses what kubernaut's refuses, naming the field, and the
// gateway's limits are the schema's.
func TestSchemaRefusesWhatKubernautsRefuses(t *testing.T) {
	ns := env.Namespace(t)
	fp := fingerprint(t, "api")
	tests := map[string]struct {
		change func(*v1alpha1.RemediationRequest)
		field  string
	}{
		"no severity":                    {func(rr *v1alpha1.RemediationRequest) { rr.Spec.Severity = "" }, "spec.severity"},
		"a severity over the limit":      {over(v1alpha1.MaxSeverityLength, func(s *v1alpha1.RemediationRequestSpec) *string { return &s.Severity }), "spec.severity"},
		"a signal name over the limit":   {over(v1alpha1.MaxSignalNameLength, func(s *v1alpha1.RemediationRequestSpec) *string { return &s.SignalName }), "spec.signalName"},
		"a signal source over the limit": {over(v1alpha1.MaxSignalSourceLength, func(s *v1alpha1.RemediationRequestSpec) *string { return &s.SignalSource }), "spec.signalSource"},
		"a cluster ID over the limit":    {over(v1alpha1.MaxClusterIDLength, func(s *v1alpha1.RemediationRequestSpec) *string { return &s.ClusterID }), "spec.clusterID"},
		"an unknown target type":         {func(rr *v1alpha1.RemediationRequest) { rr.Spec.TargetType = "vmware" }, "spec.targetType"},
		"no firing time":                 {func(rr *v1alpha1.RemediationRequest) { rr.Spec.FiringTime = metav1.Time{} }, "spec.firingTime"},
		"no received time":               {func(rr *v1alpha1.RemediationRequest) { rr.Spec.ReceivedTime = metav1.Time{} }, "spec.receivedTime"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rr := filledRR(ns, "", fp)
			tc.change(rr)
			err := env.Client.Create(context.Background(), rr)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("create: err = %v, want Invalid naming %s", err, tc.field)
			}
		})
	}
	// At the limits, it is accepted.
	rr := filledRR(ns, "", fp)
	rr.Spec.Severity = strings.Repeat("s", v1alpha1.MaxSeverityLength)
	rr.Spec.SignalName = strings.Repeat("n", v1alpha1.MaxSignalNameLength)
	rr.Spec.SignalSource = strings.Repeat("s", v1alpha1.MaxSignalSourceLength)
	rr.Spec.ClusterID = strings.Repeat("c", v1alpha1.MaxClusterIDLength)
	if err := env.Client.Create(context.Background(), rr); err != nil {
		t.Fatalf("create at the limits: %v", err)
	}
}

func TestSpecIsImmutable(t *testing.T) {
	ctx := context.Background()
	rr := stored(t, "immutable")
	changes := map[string]func(*v1alpha1.RemediationRequestSpec){
		"fingerprint": func(s *v1alpha1.RemediationRequestSpec) { s.SignalFingerprint = fingerprint(t, "other") },
		"severity":    func(s *v1alpha1.RemediationRequestSpec) { s.Severity = "warning" },
		"a label":     func(s *v1alpha1.RemediationRequestSpec) { s.SignalLabels["team"] = "payments" },
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			u := rr.DeepCopy()
			change(&u.Spec)
			err := env.Client.Update(ctx, u)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec is immutable after creation") {
				t.Fatalf("update of the %s: err = %v, want Invalid with the CEL message", name, err)
			}
		})
	}
	// Metadata and status stay writable.
	rr.Labels = map[string]string{"team": "payments"}
	if err := env.Client.Update(ctx, rr); err != nil {
		t.Fatalf("update of a label: %v", err)
	}
	rr.Status.OverallPhase = v1alpha1.PhaseProcessing
	if err := env.Client.Status().Update(ctx, rr); err != nil {
		t.Fatalf("status update: %v", err)
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
			if err := env.Client.Create(ctx, filledRR(ns, fmt.Sprintf("rr-%d-%d", i, j), fps[i])); err != nil {
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
		client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("spec.signalName", "x")})
	if !apierrors.IsBadRequest(err) {
		t.Errorf("list by a non-selectable field: err = %v, want BadRequest", err)
	}
}
