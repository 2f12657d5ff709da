// Package kube holds the client plumbing both binaries and the tests share:
// the scheme rrguard's clients speak, and the one way to load a rest.Config
// (from --kubeconfig or controller-runtime's search), with the same client
// rate limits however it was found.
package kube
