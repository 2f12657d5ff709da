package webhook_test

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
	"github.com/rrguard/rrguard/webhook"
)

// warnings collects the warnings a client's responses carried, as kubectl
// would print them.
type warnings struct{ testenv.Recorder[string] }

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) { w.Add(text) }

// warningClient returns a remediationrequests client (no retries) whose
// warning handler collects into the returned warnings.
func warningClient(t *testing.T) (*testenv.OnceClient, *warnings) {
	t.Helper()
	w := &warnings{}
	c, err := env.OnceClient(func(cfg *rest.Config) { cfg.WarningHandler = w })
	if err != nil {
		t.Fatal(err)
	}
	return c, w
}

func withMode(mode webhook.Enforcement) webhooktest.Options {
	return webhooktest.Options{Webhook: webhook.Options{Enforcement: mode}}
}

// labelledNamespace creates a namespace with webhook.EnforcementLabel=value.
func labelledNamespace(t *testing.T, value string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "rrguard-enforcement-",
		Labels: map[string]string{webhook.EnforcementLabel: value}}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// wantWarned checks that err is nil (admitted) and that exactly one
// warning came with it, naming holder.
func wantWarned(t *testing.T, what string, err error, w *warnings, holder string) {
	t.Helper()
	got := w.Take()
	if err != nil {
		t.Errorf("%s: %v, want admitted with a warning", what, err)
		return
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], "rrguard would deny this (enforcement=warn): ") || !strings.Contains(got[0], holder) {
		t.Errorf("%s: warnings %q, want one from rrguard naming %s", what, got, holder)
	}
}

// metricValue returns the value of the counter name with labels in reg.
func metricValue(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// Every reason the webhook denies a request for through the API server, in
// warn mode: the request is admitted, the client's warning handler gets the
// denial naming the holder, the claim protocol has run as in deny (the
// claim stays with the holder), and the audit line and the metric both say
// "warned" with the reason it would have had.
func TestWarnModeAdmitsAndWarnsForEveryDenialReason(t *testing.T) {
	ctx := context.Background()
	s := suite.Replace(t, withMode(webhook.EnforcementWarn))
	c, w := warningClient(t)
	ns := env.Namespace(t)

	// Duplicate of a claimed holder.
	fp := newFingerprint(t)
	first := testenv.RemediationRequest(ns, "first", fp)
	if err := c.Create(ctx, first, false); err != nil || len(w.Take()) != 0 {
		t.Fatalf("first create: %v, want admitted without a warning", err)
	}
	wantWarned(t, "duplicate", c.Create(ctx, testenv.RemediationRequest(ns, "second", fp), false), w, ns+"/first")
	wantHolder(t, ns, fp, first)

	// Duplicate of an unclaimed holder: a dry run writes no claim, a
	// create rebuilds it for the holder (step C3), as in deny.
	fpU := newFingerprint(t)
	u := unclaimedActive(t, ns, fpU)
	w.Take()
	wantWarned(t, "dry-run duplicate", c.Create(ctx, testenv.RemediationRequest(ns, "dry", fpU), true), w, ns+"/unclaimed")
	if l := webhooktest.Claim(t, env.Client, ns, fpU); l != nil {
		t.Errorf("a dry run in warn mode wrote claim %s", l.Name)
	}
	wantWarned(t, "duplicate of an unclaimed holder", c.Create(ctx, testenv.RemediationRequest(ns, "rebuilds", fpU), false), w, ns+"/unclaimed")
	wantHolder(t, ns, fpU, u)

	// ClaimInFlight: a claim whose holder is not stored, inside its grace.
	fpG := newFingerprint(t)
	ghost := ghostClaim(t, ns, fpG, time.Now())
	wantWarned(t, "claim in flight", c.Create(ctx, testenv.RemediationRequest(ns, "waits", fpG), false), w, ns+"/ghost")
	if l := webhooktest.Claim(t, env.Client, ns, fpG); l == nil || l.ResourceVersion != ghost.ResourceVersion {
		t.Errorf("claim changed by a ClaimInFlight decision in warn mode: %+v", l)
	}

	// A reactivation while another request is active.
	fpR := newFingerprint(t)
	old := completed(t, ns, "old", fpR)
	current := testenv.RemediationRequest(ns, "current", fpR)
	if err := c.Create(ctx, current, false); err != nil {
		t.Fatal(err)
	}
	w.Take()
	old.Status.OverallPhase = v1alpha1.PhaseProcessing
	wantWarned(t, "reactivation", c.UpdateStatus(ctx, old), w, ns+"/current")
	wantHolder(t, ns, fpR, current)

	want := map[string]struct{ reason, holder string }{
		"second": {"Duplicate", "first"}, "dry": {"Duplicate", "unclaimed"}, "rebuilds": {"Duplicate", "unclaimed"},
		"waits": {"ClaimInFlight", "ghost"}, "old": {"Duplicate", "current"},
	}
	warned := map[string]float64{}
	for _, l := range auditLines(t, s) {
		if l.Namespace != ns || l.Decision != "warned" {
			continue
		}
		warned[l.Reason]++
		if wl, ok := want[l.Name]; !ok || l.Reason != wl.reason || l.Holder != wl.holder || !strings.Contains(l.Message, wl.holder) {
			t.Errorf("audit line %+v, want reason %s naming %s in holder and message", l, wl.reason, wl.holder)
		}
		delete(want, l.Name)
	}
	if len(want) != 0 {
		t.Errorf("no warned audit line for %v", want)
	}
	for _, reason := range []string{"Duplicate", "ClaimInFlight"} {
		got := metricValue(t, s.Registry, "rrguard_webhook_admissions_total", map[string]string{"decision": "warned", "reason": reason})
		if got != warned[reason] || got == 0 {
			t.Errorf("warned %s: metric %v, audit %v; want equal and non-zero", reason, got, warned[reason])
		}
		if d := metricValue(t, s.Registry, "rrguard_webhook_admissions_total", map[string]string{"decision": "denied", "reason": reason}); d != 0 {
			t.Errorf("denied %s = %v in warn mode, want 0", reason, d)
		}
	}
}

// unreachable reads nothing: the API server behind it is down, say.
type unreachable struct{}

var errUnreachable = errors.New("apiserver unreachable")

func (unreachable) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return errUnreachable
}

func (unreachable) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errUnreachable
}

// An internal error is a denial too (the webhook fails closed); warn mode
// admits it with the error as the warning. The handler is the real one,
// whose reads fail.
func TestWarnModeAdmitsAnInternalErrorWithAWarning(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []webhook.Enforcement{webhook.EnforcementDeny, webhook.EnforcementWarn} {
		t.Run(string(mode), func(t *testing.T) {
			s := suite.Replace(t, webhooktest.Options{Reader: unreachable{}, Webhook: webhook.Options{Enforcement: mode, Index: unreachable{}}})
			c, w := warningClient(t)
			ns := env.Namespace(t)
			err := c.Create(ctx, testenv.RemediationRequest(ns, "errs", newFingerprint(t)), false)
			if mode == webhook.EnforcementDeny {
				if !apierrors.IsInternalError(err) {
					t.Fatalf("deny: %v, want a 500", err)
				}
				return
			}
			wantWarned(t, "internal error", err, w, errUnreachable.Error())
			if got := auditFor(t, s, ns, "errs"); len(got) != 1 || got[0].Decision != "warned" || got[0].Reason != "Error" {
				t.Errorf("audit = %+v, want one line: decision warned, reason Error", got)
			}
			if got := metricValue(t, s.Registry, "rrguard_webhook_admissions_total", map[string]string{"decision": "warned", "reason": "Error"}); got != 1 {
				t.Errorf("warned Error = %v, want 1", got)
			}
		})
	}
}

// The namespace label overrides the flag both ways, the flag unset
// included, and an unknown value falls back to the flag (never silently
// open) with a log line and a metric.
func TestNamespaceLabelOverridesTheFlagBothWays(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		flag     webhook.Enforcement // "" for unset: deny
		label    string              // "" for none
		wantWarn bool
	}{
		{"", "", false},
		{"", "warn", true},
		{webhook.EnforcementDeny, "", false},
		{webhook.EnforcementDeny, "warn", true},
		{webhook.EnforcementWarn, "", true},
		{webhook.EnforcementWarn, "deny", false},
		{webhook.EnforcementDeny, "audit", false},
		{webhook.EnforcementWarn, "Deny", true},
	} {
		t.Run(cmp.Or(string(tc.flag), "unset")+"/"+tc.label, func(t *testing.T) {
			s := suite.Replace(t, withMode(tc.flag))
			c, w := warningClient(t)
			ns := env.Namespace(t)
			if tc.label != "" {
				ns = labelledNamespace(t, tc.label)
			}
			fp := newFingerprint(t)
			if err := c.Create(ctx, testenv.RemediationRequest(ns, "holder", fp), false); err != nil {
				t.Fatal(err)
			}
			err := c.Create(ctx, testenv.RemediationRequest(ns, "dup", fp), false)
			if tc.wantWarn {
				wantWarned(t, "duplicate", err, w, ns+"/holder")
			} else if d, ok := dedup.DenialFromError(err); !ok || d.Reason != dedup.ReasonDuplicate || len(w.Take()) != 0 {
				t.Errorf("duplicate: %v, want a Duplicate denial without a warning", err)
			}
			known := map[string]bool{"": true, "deny": true, "warn": true}[tc.label]
			invalid := metricValue(t, s.Registry, "rrguard_webhook_enforcement_label_invalid_total", map[string]string{"namespace": ns})
			logged := strings.Contains(string(s.AuditLog()), `"value":"`+tc.label+`"`) &&
				strings.Contains(string(s.AuditLog()), "unknown enforcement label value")
			if known && (invalid != 0 || logged) {
				t.Errorf("label %q: invalid-label metric %v, logged %v; want neither", tc.label, invalid, logged)
			}
			if !known && (invalid != 1 || !logged) {
				t.Errorf("label %q: invalid-label metric %v, logged %v; want 1 and a log line", tc.label, invalid, logged)
			}
		})
	}
}
