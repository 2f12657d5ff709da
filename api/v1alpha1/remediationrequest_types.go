package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FingerprintField is the selectable field that lets the API server filter
// RemediationRequests by fingerprint (fieldSelector=spec.signalFingerprint=F).
const FingerprintField = "spec.signalFingerprint"

// Phase is the overall phase of a RemediationRequest.
// Which phases are terminal is decided in package dedup, nowhere else.
//
// The schema enumerates kubernaut's phases, as kubernaut's own CRD does.
// Code still treats a phase it does not know as active: a newer kubernaut
// CRD may add phases this API has not heard of.
//
// +kubebuilder:validation:Enum=Pending;Processing;Analyzing;AwaitingApproval;Executing;Verifying;Blocked;Completed;Failed;TimedOut;Skipped;Cancelled
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

// The values of CompletionStatus.Outcome, as kubernaut names them.
const (
	OutcomeRemediated           = "Remediated"
	OutcomeNoActionRequired     = "NoActionRequired"
	OutcomeManualReviewRequired = "ManualReviewRequired"
	OutcomeVerificationTimedOut = "VerificationTimedOut"
	OutcomeInconclusive         = "Inconclusive"
	OutcomeDryRun               = "DryRun"
)

// TargetTypeKubernetes is the spec.targetType of a signal about a
// Kubernetes object, the only kind rrguard's gateway receives.
const TargetTypeKubernetes = "kubernetes"

// The schema's length limits, as kubernaut's CRD sets them. The gateway
// checks a request against them before it creates one, so that a signal
// that cannot fit is answered with the field named rather than with the API
// server's refusal.
const (
	MaxSignalNameLength   = 253
	MaxSeverityLength     = 50
	MaxSignalSourceLength = 63
	MaxClusterIDLength    = 253
)

// ResourceIdentifier names the Kubernetes object a signal is about.
type ResourceIdentifier struct {
	// Kind of the target, for example Deployment, Node or Pod.
	Kind string `json:"kind"`
	// Name of the target.
	Name string `json:"name"`
	// Namespace of the target; empty for cluster-scoped kinds such as Node.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// APIVersion of the target, for example apps/v1.
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
}

// RemediationRequestSpec describes the signal that asks for a remediation.
// Every field is kubernaut's, with kubernaut's type and validation; the
// spec is immutable once created, as kubernaut's is.
//
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable after creation"
type RemediationRequestSpec struct {
	// SignalFingerprint identifies the incident: the SHA-256, in lower-case
	// hex, of the signal's target resource. At most one active
	// RemediationRequest may carry a given fingerprint.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-f0-9]{64}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="signalFingerprint is immutable"
	SignalFingerprint string `json:"signalFingerprint"`

	// SignalName is the name of the alert or the event's reason.
	// +kubebuilder:validation:MaxLength=253
	SignalName string `json:"signalName"`

	// Severity as the source rates it, for example critical or warning;
	// "unknown" when the source gives none.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=50
	Severity string `json:"severity"`

	// SignalType is "alert" for every signal rrguard's gateway creates, as
	// kubernaut's gateway writes for all its adapters.
	SignalType string `json:"signalType"`

	// SignalSource names the monitoring system the signal came from:
	// prometheus (Alertmanager notifications) or kubernetes-events.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	SignalSource string `json:"signalSource,omitempty"`

	// TargetType is the kind of system the target lives in.
	// +kubebuilder:validation:Enum=kubernetes;aws;azure;gcp;datadog
	TargetType string `json:"targetType"`

	// TargetResource is the object the signal is about.
	TargetResource ResourceIdentifier `json:"targetResource"`

	// ClusterID names the cluster the signal came from; empty for the
	// local cluster. Part of the fingerprint when set.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ClusterID string `json:"clusterID,omitempty"`

	// FiringTime is when the signal started firing at its source, or when
	// it was received if the source does not say.
	FiringTime metav1.Time `json:"firingTime"`

	// ReceivedTime is when the gateway received the signal.
	ReceivedTime metav1.Time `json:"receivedTime"`

	// SignalLabels are the signal's labels.
	// +optional
	SignalLabels map[string]string `json:"signalLabels,omitempty"`

	// SignalAnnotations are the signal's annotations.
	// +optional
	SignalAnnotations map[string]string `json:"signalAnnotations,omitempty"`

	// ProviderData is JSON with what a consumer needs about the target's
	// provider; for Kubernetes, {"namespace": ..., "labels": {...}}.
	// +optional
	ProviderData string `json:"providerData,omitempty"`

	// OriginalPayload is the notification as the gateway received it, as
	// text.
	// +optional
	OriginalPayload string `json:"originalPayload,omitempty"`
}

// DeduplicationStatus counts the signals of one incident. The gateway is its
// only writer.
type DeduplicationStatus struct {
	// FirstSeenAt is when the first signal of this incident arrived.
	// +optional
	FirstSeenAt *metav1.Time `json:"firstSeenAt,omitempty"`
	// LastSeenAt is when the latest signal of this incident arrived.
	// +optional
	LastSeenAt *metav1.Time `json:"lastSeenAt,omitempty"`
	// OccurrenceCount is how many signals were counted on this request.
	// +optional
	OccurrenceCount int32 `json:"occurrenceCount,omitempty"`
}

// CompletionStatus is the part of kubernaut's completion status rrguard
// reads; kubernaut's orchestrator writes it, rrguard never does.
type CompletionStatus struct {
	// Outcome is how a finished remediation ended.
	// +kubebuilder:validation:Enum=Remediated;NoActionRequired;ManualReviewRequired;VerificationTimedOut;Inconclusive;DryRun
	// +optional
	Outcome string `json:"outcome,omitempty"`
}

// RoutingStatus is the part of kubernaut's routing status rrguard reads;
// kubernaut's orchestrator writes it, rrguard never does.
type RoutingStatus struct {
	// NextAllowedExecution is when the orchestrator's backoff window for
	// this incident ends.
	// +optional
	NextAllowedExecution *metav1.Time `json:"nextAllowedExecution,omitempty"`
}

// RemediationRequestStatus is the observed state of a RemediationRequest:
// the fields of kubernaut's status that rrguard reads or writes. Every
// field is optional and omitted when unset, so that a status holding only
// Deduplication is exactly a patch of status.deduplication.
type RemediationRequestStatus struct {
	// Deduplication counts the signals of this incident; the gateway's.
	// +optional
	Deduplication *DeduplicationStatus `json:"deduplication,omitempty"`

	// OverallPhase is where the remediation stands. Empty means just
	// created. kubernaut's orchestrator writes it; rrguard only reads it.
	// +optional
	OverallPhase Phase `json:"overallPhase,omitempty"`

	// CompletionStatus is how a finished remediation ended; rrguard only
	// reads it.
	// +optional
	CompletionStatus *CompletionStatus `json:"completionStatus,omitempty"`

	// RoutingStatus is the orchestrator's routing decision; rrguard only
	// reads it.
	// +optional
	RoutingStatus *RoutingStatus `json:"routingStatus,omitempty"`
}

// GetDeduplication returns the deduplication status, or a zero one when
// none is set, for reads that need no nil check.
func (s *RemediationRequestStatus) GetDeduplication() *DeduplicationStatus {
	if s.Deduplication == nil {
		return &DeduplicationStatus{}
	}
	return s.Deduplication
}

// EnsureDeduplication returns the deduplication status, setting an empty
// one first when none is set, for writes.
func (s *RemediationRequestStatus) EnsureDeduplication() *DeduplicationStatus {
	if s.Deduplication == nil {
		s.Deduplication = &DeduplicationStatus{}
	}
	return s.Deduplication
}

// RemediationRequest asks for one remediation of one incident.
//
// The selectable fields and the printer columns are kubernaut's (for the
// fields this API declares), so that field selectors and kubectl work alike
// whichever of the two CRDs is installed; Occurrences and Fingerprint are
// rrguard's additions to the columns.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rr,categories=kubernaut
// +kubebuilder:selectablefield:JSONPath=`.spec.signalFingerprint`
// +kubebuilder:selectablefield:JSONPath=`.spec.signalType`
// +kubebuilder:selectablefield:JSONPath=`.spec.severity`
// +kubebuilder:selectablefield:JSONPath=`.spec.clusterID`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.overallPhase`
// +kubebuilder:printcolumn:name="Outcome",type=string,JSONPath=`.status.completionStatus.outcome`
// +kubebuilder:printcolumn:name="Alert",type=string,JSONPath=`.spec.signalName`
// +kubebuilder:printcolumn:name="Occurrences",type=integer,JSONPath=`.status.deduplication.occurrenceCount`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterID`,priority=1
// +kubebuilder:printcolumn:name="Source",type=string,JSONPath=`.spec.signalSource`,priority=1
// +kubebuilder:printcolumn:name="Signal NS",type=string,JSONPath=`.spec.targetResource.namespace`,priority=1
// +kubebuilder:printcolumn:name="Fingerprint",type=string,JSONPath=`.spec.signalFingerprint`,priority=1
type RemediationRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// Spec describes the signal, immutable once created. Optional in the
	// schema, as in kubernaut's; every request rrguard writes has one.
	// +optional
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
