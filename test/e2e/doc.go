// Package e2e runs rrguard end to end with real outside parts: a real
// Alertmanager (built from source, tools/alertmanager), configured with
// manifests/examples/alertmanager's receiver, notifies the gateway over TLS
// (the gateway's self-signed CA as its ca_file) with a ServiceAccount token
// bound to the audience rrguard-gateway, which the gateway checks with a
// real TokenReview and SubjectAccessReview, on a real kube-apiserver with
// rrguard's admission webhook registered. It has no code, only tests.
package e2e
