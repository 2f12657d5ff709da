package webhook

import (
	"encoding/json"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// withResourceVersion returns rr (as rrJSON encodes it) stored at rv.
func withResourceVersion(t *testing.T, rr []byte, rv string) []byte {
	t.Helper()
	var o map[string]any
	if err := json.Unmarshal(rr, &o); err != nil {
		t.Fatal(err)
	}
	o["metadata"].(map[string]any)["resourceVersion"] = rv
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A reactivation's candidate carries the resourceVersion of the old object:
// the request as stored while the update is admitted. A create's carries none.
func TestCandidateRecordsTheStoredResourceVersionOfAReactivation(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	old := withResourceVersion(t, rrJSON(t, "a", "uid-a", goodFP, v1alpha1.PhaseCompleted), "41")
	obj := withResourceVersion(t, rrJSON(t, "a", "uid-a", goodFP, v1alpha1.PhaseProcessing), "40")

	c, err := h.candidate(admission.Request{AdmissionRequest: review(admissionv1.Update, "status", obj, old)}, &auditRecord{})
	if err != nil || c == nil || !c.Reactivation || c.StoredResourceVersion != "41" {
		t.Errorf("reactivation candidate = %+v, %v; want a reactivation stored at 41", c, err)
	}
	c, err = h.candidate(admission.Request{AdmissionRequest: review(admissionv1.Create, "", obj, nil)}, &auditRecord{})
	if err != nil || c == nil || c.Reactivation || c.StoredResourceVersion != "" {
		t.Errorf("create candidate = %+v, %v; want a create with no stored resourceVersion", c, err)
	}
}
