package kube

// The names of rrguard's own objects, stated once: manifests/ uses them
// (its variants add the "rrguard-" prefix to every name), and so do the
// binaries' defaults (certs.Options, webhook.Configuration, the gateway's
// namespace).
const (
	// DefaultNamespace is where rrguard runs and, by default, where the
	// gateway creates RemediationRequests, when the pod's own namespace is
	// unknown.
	DefaultNamespace = "rrguard-system"
	// WebhookServiceName is the webhook's Service.
	WebhookServiceName = "rrguard-webhook"
	// WebhookConfigurationName is the ValidatingWebhookConfiguration.
	WebhookConfigurationName = "rrguard-validating-webhook"
	// WebhookLeaderElectionID is the Lease the webhook's replicas elect the
	// one that runs the janitor and the scan with; the webhook's
	// ValidatingAdmissionPolicy lets it write this Lease besides its claims.
	WebhookLeaderElectionID = "rrguard-webhook-janitor"
)
