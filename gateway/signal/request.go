package signal

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// NewRemediationRequest builds the request for sig, whose fingerprint is
// fp, to be created in ns.
func NewRemediationRequest(ns, fp string, sig *Signal, received time.Time) *v1alpha1.RemediationRequest {
	// The schema requires a firing time; a source that gives none gets
	// the time it was received, as kubernaut's gateway does.
	firing := sig.FiringTime
	if firing.IsZero() {
		firing = received
	}
	return &v1alpha1.RemediationRequest{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:    ns,
			GenerateName: "rr-" + fp[:12] + "-",
			Labels:       map[string]string{"app.kubernetes.io/created-by": "rrguard-gateway"},
		},
		Spec: v1alpha1.RemediationRequestSpec{
			SignalFingerprint: fp,
			SignalName:        sig.Name,
			Severity:          sig.Severity,
			SignalType:        sig.Type,
			SignalSource:      sig.Source,
			TargetType:        "kubernetes",
			TargetResource:    sig.Target,
			ClusterID:         sig.ClusterID,
			FiringTime:        metav1.NewTime(firing),
			ReceivedTime:      metav1.NewTime(received),
			SignalLabels:      sig.Labels,
			SignalAnnotations: sig.Annotations,
			OriginalPayload:   string(sig.Payload),
		},
	}
}
