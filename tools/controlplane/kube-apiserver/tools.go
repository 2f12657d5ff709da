//go:build tools

// Package kubeapiserver pins the kube-apiserver command that `make testbin`
// builds.
package kubeapiserver

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
