package webhook

import (
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/internal/auditlog"
)

// Options configure the webhook's decisions and its janitor.
type Options struct {
	// ClaimGrace is how long a claim whose holder is not stored yet counts
	// as in flight, as each replica observes it: at least the longest an
	// admitted write can take to be stored. Defaults to
	// dedup.DefaultClaimGrace (kube-apiserver's --request-timeout).
	ClaimGrace time.Duration
	// ClaimRetention is how long a claim outlives a gone or inactive holder.
	// Defaults to dedup.DefaultClaimRetention.
	ClaimRetention time.Duration
	// JanitorInterval is the time between janitor sweeps. Defaults to
	// ClaimRetention/24, between 10s and 10m.
	JanitorInterval time.Duration
	// DecisionTimeout bounds one decision, well inside WebhookTimeout.
	// Defaults to dedup.DefaultDecisionTimeout.
	DecisionTimeout time.Duration
	// HolderWait bounds how long a decision that meets a claim in flight
	// waits for its holder to be stored before answering ClaimInFlight.
	// Defaults to dedup.DefaultHolderWait; negative: no wait.
	HolderWait time.Duration
	// Registerer receives the metrics. Required.
	Registerer prometheus.Registerer
	// Log is the operational logger.
	Log logr.Logger
	// Audit receives one line per admission decision. Defaults to
	// auditlog.New(os.Stderr): JSON, never sampled, named AuditLoggerName.
	Audit logr.Logger
	// Enforcement is the mode of namespaces without an EnforcementLabel.
	// Defaults to deny.
	Enforcement Enforcement
	// ScanInterval is the time between the leader's scans (package
	// scan); 0 disables them.
	ScanInterval time.Duration
}

// NewGuard returns the Guard a webhook decides with: reads straight from the
// API server through reader, claim writes through writer.
func NewGuard(reader client.Reader, writer client.Writer, o Options) *dedup.Guard {
	return &dedup.Guard{Reader: reader, Writer: writer, Grace: o.ClaimGrace, Timeout: o.DecisionTimeout, HolderWait: o.HolderWait}
}

// NewKeeper returns the dedup.ClaimKeeper the webhook's janitor sweeps with.
func NewKeeper(reader client.Reader, writer client.Writer, o Options) *dedup.ClaimKeeper {
	return &dedup.ClaimKeeper{Reader: reader, Writer: writer, Retention: o.ClaimRetention, Grace: o.ClaimGrace}
}

// newAdmitter returns what the webhook's handler decides with: NewGuard's
// Guard behind a dedup.Coalescer, so that the simultaneous admissions of one
// fingerprint on this replica share one round of claim reads.
func newAdmitter(reader client.Reader, writer client.Writer, o Options) dedup.Admitter {
	return dedup.NewCoalescer(NewGuard(reader, writer, o))
}

// Setup registers the handler on mgr's webhook server at Path and adds the
// leader-elected janitor. Every read goes through mgr.GetAPIReader(), never
// the cache; claims are written with mgr.GetClient().
func Setup(mgr manager.Manager, o Options) error {
	if o.Registerer == nil {
		return fmt.Errorf("webhook setup: no metrics registerer")
	}
	metrics := NewMetrics(o.Registerer)
	audit := o.Audit
	if audit.GetSink() == nil {
		audit = auditlog.New(os.Stderr)
	}
	enforcer, err := setupEnforcer(mgr, o)
	if err != nil {
		return err
	}
	h := NewHandler(newAdmitter(mgr.GetAPIReader(), mgr.GetClient(), o), mgr.GetScheme(), audit, metrics).WithEnforcer(enforcer)
	mgr.GetWebhookServer().Register(Path, &admission.Webhook{Handler: h})
	j := &Janitor{
		Keeper:   NewKeeper(mgr.GetAPIReader(), mgr.GetClient(), o),
		Interval: o.JanitorInterval,
		Log:      o.Log.WithName("janitor"), Metrics: metrics,
	}
	if err := mgr.Add(j); err != nil {
		return fmt.Errorf("add claim janitor: %w", err)
	}
	if o.ScanInterval > 0 {
		if err := mgr.Add(newScanRunner(mgr, o, audit)); err != nil {
			return fmt.Errorf("add scan: %w", err)
		}
	}
	return nil
}
