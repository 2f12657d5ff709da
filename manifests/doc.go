// Package manifests holds rrguard's kustomize tree, which installs it:
//
//	crd/          the RemediationRequest CRD (bases/ is generated: make generate)
//	rbac/         a ServiceAccount and least-privilege roles per component,
//	              and the policy confining the webhook's Lease writes to
//	              claims; rbac/certmanager and rbac/selfsigned add what
//	              each certificate mode needs
//	webhook/      the admission webhook: Deployment, Service, PDB and the
//	              ValidatingWebhookConfiguration
//	gateway/      the signal gateway (TLS): Deployment, Service, PDB and
//	              the ClusterRole a signal sender needs
//	certmanager/  rrguard's CA, and the webhook's and the gateway's
//	              Certificates
//	default/      everything in rrguard-system, certificates from cert-manager
//	without-crd/  default without the CRD (kubernaut's own is installed)
//	self-signed/  everything, each server its own CA (no cert-manager)
//	examples/     what a sender needs, such as Alertmanager's binding,
//	              token and CA volumes, and receiver
//
// There is no Go code here, only tests: every variant is built with
// kustomize's krusty and applied with server-side apply to a real API
// server, and the RBAC is exercised by impersonating each ServiceAccount.
package manifests
