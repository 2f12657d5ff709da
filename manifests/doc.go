// Package manifests holds rrguard's kustomize tree, which installs it:
//
//	crd/          the RemediationRequest CRD (bases/ is generated: make generate)
//	rbac/         a ServiceAccount and least-privilege roles per component;
//	              rbac/certmanager and rbac/selfsigned add what each
//	              certificate mode needs
//	webhook/      the admission webhook: Deployment, Service, PDB and the
//	              ValidatingWebhookConfiguration
//	gateway/      the signal gateway: Deployment, Service, PDB and the
//	              ClusterRole a signal sender needs
//	certmanager/  the webhook's Issuer and Certificate
//	default/      everything in rrguard-system, certificates from cert-manager
//	without-crd/  default without the CRD (kubernaut's own is installed)
//	self-signed/  everything, the webhook its own CA (no cert-manager)
//	examples/     bindings to adapt, such as Alertmanager's
//
// There is no Go code here, only tests: every variant is built with
// kustomize's krusty and applied with server-side apply to a real API
// server, and the RBAC is exercised by impersonating each ServiceAccount.
package manifests
