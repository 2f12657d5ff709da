// Package testenv starts the real control plane the integration tests run
// against: a kube-apiserver and etcd built from source (make testbin, which
// sets KUBEBUILDER_ASSETS), through controller-runtime's envtest, with
// rrguard's CRD installed and, where a test asks, its validating webhook
// registered with a generated CA and a localhost URL.
package testenv
