package testenv

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// RemediationRequest returns a request for fp named name in ns (generated
// from "rr-" when name is empty) with every field the schema requires, set
// as kubernaut's gateway sets them for an alert about Deployment api in
// namespace payments. Tests change what they need.
func RemediationRequest(ns, name, fp string) *v1alpha1.RemediationRequest {
	at := metav1.NewTime(time.Date(2026, 11, 26, 4, 58, 12, 0, time.UTC))
	rr := &v1alpha1.RemediationRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.RemediationRequestSpec{
			SignalFingerprint: fp,
			SignalName:        "KubePodCrashLooping",
			Severity:          "critical",
			SignalType:        "alert",
			SignalSource:      "prometheus",
			TargetType:        v1alpha1.TargetTypeKubernetes,
			TargetResource:    v1alpha1.ResourceIdentifier{Kind: "Deployment", Name: "api", Namespace: "payments", APIVersion: "apps/v1"},
			FiringTime:        at,
			ReceivedTime:      at,
		},
	}
	if name == "" {
		rr.GenerateName = "rr-"
	}
	return rr
}
