package webhook

import (
	"context"
	"fmt"
	"sync"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// Enforcement says what the webhook does with a request it would deny.
type Enforcement string

// The enforcement modes.
const (
	// EnforcementDeny denies it (the default).
	EnforcementDeny Enforcement = "deny"
	// EnforcementWarn admits it with an admission warning naming the
	// holder; the audit line records decision "warned" with the reason it
	// would have been denied for. The claim protocol runs exactly as in
	// deny, so switching to deny needs no migration.
	EnforcementWarn Enforcement = "warn"
)

// EnforcementLabel on a namespace overrides --enforcement for the
// RemediationRequests in it: "deny" or "warn". Any other value falls back
// to the flag's mode, with a warning in the log and
// rrguard_webhook_enforcement_label_invalid_total counting it; it never
// opens a namespace silently.
const EnforcementLabel = "rrguard.kubernaut.ai/enforcement"

// ParseEnforcement parses a mode; anything but deny or warn is an error, and
// the flag refuses to start the process with it (step E1).
func ParseEnforcement(s string) (Enforcement, error) {
	switch e := Enforcement(s); e {
	case EnforcementDeny, EnforcementWarn:
		return e, nil
	}
	return "", fmt.Errorf("unknown enforcement %q: want %s or %s", s, EnforcementDeny, EnforcementWarn)
}

// String implements flag.Value.
func (e *Enforcement) String() string { return string(*e) }

// Set implements flag.Value: an unknown mode is refused.
func (e *Enforcement) Set(s string) error {
	v, err := ParseEnforcement(s)
	if err != nil {
		return err
	}
	*e = v
	return nil
}

// Enforcer decides the enforcement of a namespace: its EnforcementLabel,
// else Default.
type Enforcer struct {
	// Default is the mode of --enforcement. Empty means deny.
	Default Enforcement
	// Namespaces reads namespace metadata. In the binary it is the
	// manager's cache (a metadata-only informer: a label change applies
	// within the watch's latency), falling back to the API server for a
	// namespace the cache has not seen yet.
	Namespaces client.Reader
	// Log receives a warning per namespace whose label value is unknown
	// (once per value) and per failed lookup.
	Log     logr.Logger
	metrics *Metrics
	logged  sync.Map // namespace -> label value already warned about
}

var namespaceGVK = schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}

func (e *Enforcer) defaultMode() Enforcement {
	if e.Default == "" {
		return EnforcementDeny
	}
	return e.Default
}

// For returns the enforcement of namespace ns, from its label as the
// informer last saw it (step E5). A namespace it cannot read,
// or whose label it does not know, gets Default.
func (e *Enforcer) For(ctx context.Context, ns string) Enforcement {
	if e == nil {
		return EnforcementDeny
	}
	if ns == "" || e.Namespaces == nil {
		return e.defaultMode()
	}
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(namespaceGVK)
	if err := e.Namespaces.Get(ctx, client.ObjectKey{Name: ns}, m); err != nil {
		e.Log.Error(err, "read namespace for its enforcement label; using the default", "namespace", ns, "enforcement", e.defaultMode())
		return e.defaultMode()
	}
	v, ok := m.Labels[EnforcementLabel]
	if !ok {
		return e.defaultMode()
	}
	mode, err := ParseEnforcement(v)
	if err != nil {
		if e.metrics != nil {
			e.metrics.invalidEnforcementLabels.WithLabelValues(ns).Inc()
		}
		if prev, seen := e.logged.Swap(ns, v); !seen || prev != v {
			e.Log.Info("WARNING: namespace has an unknown enforcement label value; using the default",
				"namespace", ns, "label", EnforcementLabel, "value", v, "enforcement", e.defaultMode())
		}
		return e.defaultMode()
	}
	return mode
}

// enforce turns resp, a decision made as in deny mode, into what the
// namespace's mode answers (steps E2 and E3): in warn, a denial (of any reason, an internal
// error included) becomes an admission with a warning carrying the denial's
// message, and rec records that. The Guard has run exactly as in deny, dry
// runs included (they never write).
func (h *Handler) enforce(ctx context.Context, req admission.Request, resp admission.Response, rec *auditRecord) admission.Response {
	if resp.Allowed {
		return resp
	}
	if h.enforcer.For(ctx, req.Namespace) != EnforcementWarn {
		return resp
	}
	msg := string(rec.reason)
	if resp.Result != nil && resp.Result.Message != "" {
		msg = resp.Result.Message
	}
	rec.warned = true
	// The allowed response carries the denial's message, for the audit line.
	warned := admission.Allowed(msg)
	warned.Warnings = append(resp.Warnings, "rrguard would deny this (enforcement=warn): "+msg)
	return warned
}
