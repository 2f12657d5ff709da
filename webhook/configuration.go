package webhook

import (
	"fmt"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/internal/kube"
)

// Names of the two webhooks in the configuration.
const (
	CreateWebhookName     = "create.remediationrequests.rrguard.kubernaut.ai"
	ReactivateWebhookName = "reactivate.remediationrequests.rrguard.kubernaut.ai"
)

// WebhookTimeout is the webhooks' timeoutSeconds: how long the API server
// waits for a decision before failing the request closed. A decision is
// bounded well inside it (dedup.DefaultDecisionTimeout).
const WebhookTimeout = 5 * time.Second

// ConfigurationOptions say where the API server reaches the webhook.
type ConfigurationOptions struct {
	// Name of the ValidatingWebhookConfiguration. Defaults to
	// kube.WebhookConfigurationName.
	Name string
	// ServiceNamespace and ServiceName name the webhook's Service. Default
	// to kube.DefaultNamespace and kube.WebhookServiceName.
	ServiceNamespace, ServiceName string
	// CABundle is the CA the API server trusts the serving certificate by.
	CABundle []byte
	// FailurePolicy is what the API server does when no webhook replica
	// answers. Defaults to Fail; docs/design.md, section 10, says which
	// install ships which, and why.
	FailurePolicy admissionregistrationv1.FailurePolicyType
}

// reactivationCondition is the CEL matchCondition under which the API server
// sends a status UPDATE at all: the phase moves from terminal to active and
// the request is not being deleted. Ordinary status updates (the gateway's
// counting, the controller's progress) never reach the webhook.
func reactivationCondition() string {
	quoted := make([]string, 0, 5)
	for _, p := range dedup.TerminalPhases() {
		quoted = append(quoted, fmt.Sprintf("'%s'", p))
	}
	terminal := "[" + strings.Join(quoted, ", ") + "]"
	phase := func(o string) string {
		return fmt.Sprintf("(has(%[1]s.status) && has(%[1]s.status.overallPhase) ? %[1]s.status.overallPhase : '')", o)
	}
	return fmt.Sprintf("%s in %s && !(%s in %s) && !has(object.metadata.deletionTimestamp)",
		phase("oldObject"), terminal, phase("object"), terminal)
}

// Configuration returns the ValidatingWebhookConfiguration that registers
// the webhook: CREATE of remediationrequests, and UPDATE of their status
// subresource filtered by reactivationCondition. By default it fails closed
// (failurePolicy Fail): a duplicate let through is the harm rrguard exists
// to prevent, and rrguard's gateway answers a refused create 503, which its
// sender retries. Where kubernaut's own creators run, a refused create can
// cost an incident instead (docs/design.md, section 10): those installs
// fail open.
func Configuration(o ConfigurationOptions) *admissionregistrationv1.ValidatingWebhookConfiguration {
	if o.Name == "" {
		o.Name = kube.WebhookConfigurationName
	}
	if o.ServiceNamespace == "" {
		o.ServiceNamespace = kube.DefaultNamespace
	}
	if o.ServiceName == "" {
		o.ServiceName = kube.WebhookServiceName
	}
	if o.FailurePolicy == "" {
		o.FailurePolicy = admissionregistrationv1.Fail
	}
	hook := func(name string, op admissionregistrationv1.OperationType, resource string) admissionregistrationv1.ValidatingWebhook {
		return admissionregistrationv1.ValidatingWebhook{
			Name: name,
			ClientConfig: admissionregistrationv1.WebhookClientConfig{
				Service: &admissionregistrationv1.ServiceReference{
					Namespace: o.ServiceNamespace, Name: o.ServiceName, Path: ptr.To(Path), Port: ptr.To[int32](443),
				},
				CABundle: o.CABundle,
			},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{op},
				Rule: admissionregistrationv1.Rule{
					APIGroups:   []string{v1alpha1.GroupVersion.Group},
					APIVersions: []string{v1alpha1.GroupVersion.Version},
					Resources:   []string{resource},
					Scope:       ptr.To(admissionregistrationv1.NamespacedScope),
				},
			}},
			FailurePolicy:           ptr.To(o.FailurePolicy),
			MatchPolicy:             ptr.To(admissionregistrationv1.Equivalent),
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNoneOnDryRun),
			TimeoutSeconds:          ptr.To(int32(WebhookTimeout / time.Second)),
			AdmissionReviewVersions: []string{"v1"},
		}
	}
	reactivate := hook(ReactivateWebhookName, admissionregistrationv1.Update, v1alpha1.Resource+"/status")
	reactivate.MatchConditions = []admissionregistrationv1.MatchCondition{{
		Name: "terminal-to-active", Expression: reactivationCondition(),
	}}
	return &admissionregistrationv1.ValidatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{
			hook(CreateWebhookName, admissionregistrationv1.Create, v1alpha1.Resource),
			reactivate,
		},
	}
}
