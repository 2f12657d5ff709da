// Package e2e runs rrguard end to end with real outside parts: a real
// Alertmanager (built from source, tools/alertmanager) notifies the gateway
// through its webhook receiver with a ServiceAccount token, which the
// gateway checks with a real TokenReview and SubjectAccessReview, on a real
// kube-apiserver with rrguard's admission webhook registered. It has no
// code, only tests.
package e2e
