package webhook

import (
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/rrguard/rrguard/counter"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/internal/auditlog"
	"github.com/rrguard/rrguard/internal/rrindex"
)

// DefaultScanInterval is the binary's time between the leader's scans.
const DefaultScanInterval = 10 * time.Minute

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
	// A logger without a sink, logr.Discard() included, is unset: the audit
	// is never off by accident; auditlog.New(io.Discard) drops it.
	Audit logr.Logger
	// Enforcement is the mode of namespaces without an EnforcementLabel.
	// Defaults to deny.
	Enforcement Enforcement
	// CountedCreators are the creators that take a denial with reason
	// AlreadyExists as "the incident's request exists" and count nothing
	// themselves (kubernaut's gateway and API frontend): their duplicate
	// creates are denied AlreadyExists instead of Conflict, and counted by
	// Counter on the holder the denial names. Empty by default.
	CountedCreators Creators
	// Counter counts the denied creates of CountedCreators; required with
	// them. Setup sets NewCounter's.
	Counter Counter
	// Index answers the look for requests stored out of the webhook's
	// reach (steps C2 and C4) from memory: an informer-backed index of
	// every namespace's requests by fingerprint (internal/rrindex). Setup
	// adds one to the manager, and the replica is ready once it has
	// synced; unset, NewGuard's Guard Lists kube-apiserver's watch cache.
	Index client.Reader
	// ScanInterval is the time between the leader's scans (package
	// scan); 0, the zero value, disables them. The binary's default is
	// DefaultScanInterval.
	ScanInterval time.Duration
}

// withDefaults returns o with the audit logger set.
func (o Options) withDefaults() Options {
	if o.Audit.GetSink() == nil {
		o.Audit = auditlog.New(os.Stderr)
	}
	return o
}

// NewGuard returns the Guard a webhook decides with: reads straight from the
// API server through reader, claim writes through writer.
func NewGuard(reader client.Reader, writer client.Writer, o Options) *dedup.Guard {
	return dedup.NewGuard(reader, writer, dedup.GuardOptions{Index: o.Index, Grace: o.ClaimGrace, Timeout: o.DecisionTimeout, HolderWait: o.HolderWait})
}

// NewKeeper returns the dedup.ClaimKeeper the webhook's janitor sweeps with.
func NewKeeper(reader client.Reader, writer client.Writer, o Options) *dedup.ClaimKeeper {
	return &dedup.ClaimKeeper{Reader: reader, Writer: writer, Retention: o.ClaimRetention, Grace: o.ClaimGrace}
}

// NewHandler returns the handler a replica serves, as Setup wires it, and
// the metrics it counts in (registered with o.Registerer): it decides with
// admitter, in the binary NewGuard's Guard behind a dedup.Coalescer, so that
// the simultaneous admissions of one fingerprint on the replica share one
// round of claim reads; it applies o.Enforcement, or a namespace's EnforcementLabel read
// through namespaces, to every denial; it writes one audit line per
// decision to o.Audit. A test may set the Guard's Clock or Age first, to
// play a replica whose clock is off, or hand in the bare Guard, to measure
// what coalescing buys.
func NewHandler(admitter dedup.Admitter, namespaces client.Reader, scheme *runtime.Scheme, o Options) (*Handler, *Metrics, error) {
	if o.Registerer == nil {
		return nil, nil, fmt.Errorf("webhook setup: no metrics registerer")
	}
	mode := o.Enforcement
	if mode == "" {
		mode = EnforcementDeny
	}
	if _, err := ParseEnforcement(string(mode)); err != nil {
		return nil, nil, fmt.Errorf("webhook setup: %w", err)
	}
	o = o.withDefaults()
	var counts *denialCounts
	if !o.CountedCreators.Empty() {
		if o.Counter == nil {
			return nil, nil, fmt.Errorf("webhook setup: counted creators (%s) need a Counter", o.CountedCreators.String())
		}
		counts = newDenialCounts(o.Counter)
	}
	metrics := NewMetrics(o.Registerer)
	return &Handler{
		admitter: admitter,
		decoder:  admission.NewDecoder(scheme),
		audit:    o.Audit,
		metrics:  metrics,
		enforcer: &Enforcer{Default: mode, Namespaces: namespaces, Log: o.Log.WithName("enforcement"), metrics: metrics},
		counted:  o.CountedCreators,
		counts:   counts,
	}, metrics, nil
}

// Setup registers the handler on mgr's webhook server at Path and adds the
// leader-elected janitor. Every read that decides goes through
// mgr.GetAPIReader(), never a cache; claims are written with
// mgr.GetClient(); namespace labels are read from the cache
// (namespaceReader); steps C2 and C4 look in the fingerprint index Setup
// adds (Options.Index), and a Get confirms what they find.
func Setup(mgr manager.Manager, o Options) error {
	o = o.withDefaults()
	namespaces, err := namespaceReader(mgr)
	if err != nil {
		return err
	}
	if o.Index == nil {
		idx, err := rrindex.AddTo(mgr, "")
		if err != nil {
			return err
		}
		o.Index = idx
	}
	if !o.CountedCreators.Empty() && o.Counter == nil {
		c, err := counter.NewClient(mgr.GetConfig(), client.Options{HTTPClient: mgr.GetHTTPClient(), Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()})
		if err != nil {
			return fmt.Errorf("counting denied creates: %w", err)
		}
		o.Counter = NewCounter(mgr.GetAPIReader(), c)
	}
	h, metrics, err := NewHandler(dedup.NewCoalescer(NewGuard(mgr.GetAPIReader(), mgr.GetClient(), o)), namespaces, mgr.GetScheme(), o)
	if err != nil {
		return err
	}
	mgr.GetWebhookServer().Register(Path, &admission.Webhook{Handler: h})
	j := &Janitor{
		Keeper:   NewKeeper(mgr.GetAPIReader(), mgr.GetClient(), o),
		Interval: o.JanitorInterval,
		Log:      o.Log.WithName("janitor"), Metrics: metrics,
	}
	if err := mgr.Add(j.job()); err != nil {
		return fmt.Errorf("add claim janitor: %w", err)
	}
	if o.ScanInterval > 0 {
		if err := mgr.Add(newScanJob(mgr, o)); err != nil {
			return fmt.Errorf("add scan: %w", err)
		}
	}
	return nil
}
