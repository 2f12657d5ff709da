package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FingerprintField is the selectable field that lets the API server filter
// RemediationRequests by fingerprint (fieldSelector=spec.signalFingerprint=F).
const FingerprintField = "spec.signalFingerprint"

// Phase is the overall phase of a RemediationRequest.
// Which phases are terminal is decided in package dedup, nowhere else.
type Phase string

// The phases of a RemediationRequest, as kubernaut names them.
const (
	PhasePending          Phase = "Pending"
	PhaseProcessing       Phase = "Processing"
	PhaseAnalyzing        Phase = "Analyzing"
	PhaseAwaitingApproval Phase = "AwaitingApproval"
	PhaseExecuting        Phase = "Executing"
	PhaseVerifying        Phase = "Verifying"
	PhaseBlocked          Phase = "Blocked"
	PhaseCompleted        Phase = "Completed"
	PhaseFailed           Phase = "Failed"
	PhaseTimedOut         Phase = "TimedOut"
	PhaseSkipped          Phase = "Skipped"
	PhaseCancelled        Phase = "Cancelled"
)

// ResourceIdentifier names the Kubernetes object a signal is about.
type ResourceIdentifier struct {
	// Kind of the target, for example Deployment, Node or Pod.
	// +kubebuilder:validation:MinLength=1
	Kind string `json:"kind"`
	// Name of the target.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Namespace of the target; empty for cluster-scoped kinds such as Node.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// APIVersion of the target, for example apps/v1.
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
}

// RemediationRequestSpec describes the signal that asks for a remediation.
type RemediationRequestSpec struct {
	// SignalFingerprint identifies the incident: the SHA-256, in lower-case
	// hex, of the signal's target resource. At most one active
	// RemediationRequest may carry a given fingerprint.
	// +kubebuilder:validation:Pattern=`^[a-f0-9]{64}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="signalFingerprint is immutable"
	SignalFingerprint string `json:"signalFingerprint"`

	// SignalName is the name of the alert or event reason.
	// +kubebuilder:validation:MinLength=1
	SignalName string `json:"signalName"`

	// Severity of the signal, for example critical, warning or info.
	// +optional
	Severity string `json:"severity,omitempty"`

	// SignalType is the kind of source, for example prometheus or
	// kubernetes-event.
	// +optional
	SignalType string `json:"signalType,omitempty"`

	// SignalSource names the sender, for example the Alertmanager receiver.
	// +optional
	SignalSource string `json:"signalSource,omitempty"`

	// TargetType is the kind of system the target lives in, for example
	// kubernetes.
	// +optional
	TargetType string `json:"targetType,omitempty"`

	// TargetResource is the object the signal is about.
	// +optional
	TargetResource ResourceIdentifier `json:"targetResource,omitzero"`

	// ClusterID names the cluster the signal came from; part of the
	// fingerprint when set.
	// +optional
	ClusterID string `json:"clusterID,omitempty"`

	// FiringTime is when the signal started firing at its source.
	// +optional
	FiringTime metav1.Time `json:"firingTime,omitzero"`

	// ReceivedTime is when rrguard received the signal.
	// +optional
	ReceivedTime metav1.Time `json:"receivedTime,omitzero"`

	// SignalLabels are the signal's labels as the source sent them.
	// +optional
	SignalLabels map[string]string `json:"signalLabels,omitempty"`

	// SignalAnnotations are the signal's annotations as the source sent them.
	// +optional
	SignalAnnotations map[string]string `json:"signalAnnotations,omitempty"`

	// OriginalPayload is the signal as received, for audit.
	// +optional
	OriginalPayload []byte `json:"originalPayload,omitempty"`
}

// DeduplicationStatus counts the signals of one incident.
type DeduplicationStatus struct {
	// FirstSeenAt is when the first signal of this incident arrived.
	// +optional
	FirstSeenAt *metav1.Time `json:"firstSeenAt,omitempty"`
	// LastSeenAt is when the latest signal of this incident arrived.
	// +optional
	LastSeenAt *metav1.Time `json:"lastSeenAt,omitempty"`
	// OccurrenceCount is how many signals were counted on this request.
	// +kubebuilder:validation:Minimum=0
	// +optional
	OccurrenceCount int64 `json:"occurrenceCount,omitempty"`
}

// RemediationRequestStatus is the observed state of a RemediationRequest.
type RemediationRequestStatus struct {
	// OverallPhase is where the remediation stands. Empty means just created.
	// Deliberately not an enum: kubernaut may add phases, and an unknown
	// phase counts as active.
	// +optional
	OverallPhase Phase `json:"overallPhase,omitempty"`

	// Deduplication counts the signals of this incident.
	// +optional
	Deduplication DeduplicationStatus `json:"deduplication,omitzero"`

	// RoutingStatus is kubernaut's orchestrator's routing state; rrguard
	// reads its backoff window and never writes it.
	// +optional
	RoutingStatus *RoutingStatus `json:"routingStatus,omitempty"`

	// CompletionStatus is kubernaut's orchestrator's account of how a
	// remediation ended; rrguard reads its outcome and never writes it.
	// +optional
	CompletionStatus *CompletionStatus `json:"completionStatus,omitempty"`
}

// OutcomeManualReviewRequired is the CompletionStatus.Outcome of a
// remediation that stopped for a human to act.
const OutcomeManualReviewRequired = "ManualReviewRequired"

// RoutingStatus is the part of kubernaut's routing status rrguard reads.
type RoutingStatus struct {
	// NextAllowedExecution is when the fingerprint may be remediated again
	// after kubernaut's exponential backoff.
	// +optional
	NextAllowedExecution *metav1.Time `json:"nextAllowedExecution,omitempty"`
}

// CompletionStatus is the part of kubernaut's completion status rrguard
// reads.
type CompletionStatus struct {
	// Outcome is the remediation's result once it ended.
	// +kubebuilder:validation:Enum=Remediated;NoActionRequired;ManualReviewRequired;VerificationTimedOut;Inconclusive;DryRun
	// +optional
	Outcome string `json:"outcome,omitempty"`
}

// RemediationRequest asks for one remediation of one incident.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rr,categories=kubernaut
// +kubebuilder:selectablefield:JSONPath=`.spec.signalFingerprint`
// +kubebuilder:selectablefield:JSONPath=`.spec.signalName`
// +kubebuilder:selectablefield:JSONPath=`.spec.severity`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.overallPhase`
// +kubebuilder:printcolumn:name="Signal",type=string,JSONPath=`.spec.signalName`
// +kubebuilder:printcolumn:name="Severity",type=string,JSONPath=`.spec.severity`
// +kubebuilder:printcolumn:name="Occurrences",type=integer,JSONPath=`.status.deduplication.occurrenceCount`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Fingerprint",type=string,JSONPath=`.spec.signalFingerprint`,priority=1
type RemediationRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`

	Spec   RemediationRequestSpec   `json:"spec"`
	Status RemediationRequestStatus `json:"status,omitzero"`
}

// RemediationRequestList is a list of RemediationRequests.
//
// +kubebuilder:object:root=true
type RemediationRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []RemediationRequest `json:"items"`
}
