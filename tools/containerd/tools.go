//go:build tools

// Package containerd pins the container runtime that `make e2e-cluster` runs
// its kubelet on: containerd 2.x (the kubelet of Kubernetes 1.37 no longer
// supports containerd 1.x), its runc shim and ctr, built from source.
package containerd

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
