//go:build tools

// Package cluster pins the Kubernetes commands that `make e2e-cluster` builds
// for its one-node cluster: kube-apiserver (stamped with its version, unlike
// the test control plane's), the kubelet, the controller manager, the
// scheduler, kube-proxy and kubectl, all at one Kubernetes version.
package cluster

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
