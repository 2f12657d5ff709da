// Package kube holds the client plumbing both binaries and the tests share:
// the scheme rrguard's clients speak, and loading a rest.Config from the
// --kubeconfig flag.
package kube
