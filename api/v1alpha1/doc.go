// Package v1alpha1 holds the RemediationRequest API, group kubernaut.ai,
// version v1alpha1. Field names follow the kubernaut project's
// RemediationRequest, so rrguard's webhook also guards a cluster that already
// runs kubernaut's own CRD.
//
// +kubebuilder:object:generate=true
// +groupName=kubernaut.ai
package v1alpha1
