// Package webhooktest serves rrguard's real admission webhook to an
// envtest control plane, over TLS on the host, port and certificate that
// envtest registered, so that tests exercise exactly what a cluster does.
package webhooktest
