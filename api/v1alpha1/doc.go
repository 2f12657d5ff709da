// Package v1alpha1 holds the RemediationRequest API, group kubernaut.ai,
// version v1alpha1: a faithful subset of the kubernaut project's
// RemediationRequest. Every field declared here is kubernaut's, with its name,
// JSON type and validation (crd_test holds the schema to kubernaut's), so
// rrguard works against kubernaut's own CRD unchanged. The subset is only
// safe to read and to write field by field: a client that decodes a
// kubernaut object into these types and writes the whole of it back would
// erase every field declared only by kubernaut.
//
// +kubebuilder:object:generate=true
// +groupName=kubernaut.ai
package v1alpha1
