// Package devenv runs rrguard locally for `make run`: a real etcd and
// kube-apiserver (the ones the tests use) with the CRD installed and the
// webhook registered, the webhook and gateway binaries on it, and, for
// `make demo`, a burst of identical alerts and a table of the resulting
// RemediationRequests. Everything it starts it stops, and its state folder
// is removed, when its context ends.
package devenv
