package main

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/rrguard/rrguard/certs"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/webhook"
)

// Options are the webhook's command-line options.
type Options struct {
	// Kubeconfig is a kubeconfig file; empty means in-cluster, or
	// $KUBECONFIG, or ~/.kube/config (controller-runtime's GetConfig).
	Kubeconfig string
	// WebhookPort serves the admission webhook over TLS. Defaults to 9443.
	WebhookPort int
	// WebhookCertPath is the directory with tls.crt and tls.key, reloaded
	// when they change. Defaults to controller-runtime's
	// <tmp>/k8s-webhook-server/serving-certs.
	WebhookCertPath string
	// CertMode says where the serving certificate comes from: files
	// (default), self-signed or cert-manager.
	CertMode certs.Mode
	// Certs are the certificate details (names, extra SANs, validity) for
	// the self-signed and cert-manager modes; see certs.Options.
	Certs certs.Options
	// EnableHTTP2 serves HTTP/2 too. Defaults to false.
	EnableHTTP2 bool
	// MetricsBindAddress serves /metrics. Defaults to ":8080"; "0"
	// disables it.
	MetricsBindAddress string
	// HealthProbeBindAddress serves /healthz and /readyz. Defaults to
	// ":8081".
	HealthProbeBindAddress string
	// LeaderElect elects one janitor among the replicas. Defaults to false.
	LeaderElect bool
	// LeaderElectionNamespace holds the leader election Lease. Defaults to
	// the pod's namespace.
	LeaderElectionNamespace string
	// ClaimGrace is how long a claim whose holder is not stored yet counts
	// as in flight, as each replica observes it. Defaults to
	// dedup.DefaultClaimGrace, kube-apiserver's default --request-timeout.
	ClaimGrace time.Duration
	// ClaimRetention is how long a claim outlives a gone or inactive
	// holder. Defaults to dedup.DefaultClaimRetention.
	ClaimRetention time.Duration
	// Enforcement is what the webhook does with a request it would deny:
	// deny (default) or warn (admit it with a warning). A namespace's
	// webhook.EnforcementLabel overrides it.
	Enforcement webhook.Enforcement
	// CountedCreators are the creators (users, groups, ServiceAccounts)
	// whose duplicate creates are denied AlreadyExists: kubernaut's gateway
	// and API frontend. Empty by default.
	CountedCreators webhook.Creators
	// ScanInterval is the time between the leader's scans for duplicate
	// and unclaimed active RemediationRequests. Defaults to 10m; 0
	// disables the scan.
	ScanInterval time.Duration
	// Zap configures the logger: JSON unless --zap-devel.
	Zap zap.Options
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{
		WebhookPort:            9443,
		CertMode:               certs.ModeFiles,
		MetricsBindAddress:     ":8080",
		HealthProbeBindAddress: ":8081",
		ClaimGrace:             dedup.DefaultClaimGrace,
		ClaimRetention:         dedup.DefaultClaimRetention,
		Enforcement:            webhook.EnforcementDeny,
		ScanInterval:           10 * time.Minute,
		// JSON lines with readable timestamps, as a log pipeline expects.
		Zap: zap.Options{Development: false, TimeEncoder: zapcore.RFC3339NanoTimeEncoder},
	}
}

// BindFlags binds o's fields to flags on fs, with o's values as defaults.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "Path to a kubeconfig. Only required if out-of-cluster.")
	fs.IntVar(&o.WebhookPort, "webhook-port", o.WebhookPort, "The port the admission webhook serves TLS on.")
	fs.StringVar(&o.WebhookCertPath, "webhook-cert-path", o.WebhookCertPath, "The directory with tls.crt and tls.key; reloaded when they change.")
	fs.Var(&o.CertMode, "cert-mode", "Where the serving certificate comes from: files (the --webhook-cert-path directory as mounted), self-signed (generated, stored in a Secret, CA injected into the webhook configuration) or cert-manager (not ready until the Certificate is Ready).")
	o.Certs.BindFlags(fs)
	fs.BoolVar(&o.EnableHTTP2, "enable-http2", o.EnableHTTP2, "Serve HTTP/2 as well; off by default because of HTTP/2's stream-reset weaknesses.")
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", o.MetricsBindAddress, "The address the metrics endpoint binds to. Set \"0\" to disable it.")
	fs.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", o.HealthProbeBindAddress, "The address the /healthz and /readyz probe endpoints bind to.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "Elect a leader to run the claim janitor; admission runs on every replica regardless.")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", o.LeaderElectionNamespace, "The namespace of the leader election Lease. Defaults to the pod's namespace.")
	fs.DurationVar(&o.ClaimGrace, "claim-grace", o.ClaimGrace, "How long a replica must observe a claim unchanged, while its holder is not stored, before another request may take it over. It must be at least the longest an admitted create can take to be stored: the API server's --request-timeout (default 60s). Meanwhile creates of that fingerprint are denied ClaimInFlight (429).")
	fs.DurationVar(&o.ClaimRetention, "claim-retention", o.ClaimRetention, "How long a claim outlives a holder that is gone or inactive before the janitor removes it.")
	fs.Var(&o.Enforcement, "enforcement", "What to do with a RemediationRequest the webhook would deny: deny, or warn (admit it with an admission warning naming the holder, audited as decision \"warned\"). A namespace's "+webhook.EnforcementLabel+" label (deny or warn) overrides it.")
	fs.Var(&o.CountedCreators, "count-denied-creators", "Creators of RemediationRequests that take a denial with reason AlreadyExists as \"the incident's RemediationRequest exists\" and count nothing themselves, as kubernaut's gateway and API frontend do: comma-separated user:<name>, group:<name> or serviceaccount:<namespace>:<name>. Their duplicate creates are denied 409 AlreadyExists naming the holder (everyone else's 409 Conflict). Never rrguard's own gateway.")
	fs.DurationVar(&o.ScanInterval, "scan-interval", o.ScanInterval, "Time between the leader's scans of every RemediationRequest: duplicate active ones reported (metric, Events, audit), unclaimed active ones adopted. 0 disables the scan.")
	o.Zap.BindFlags(fs)
}

// Validate reports options that cannot work.
func (o *Options) Validate() error {
	var errs []error
	if o.WebhookPort <= 0 || o.WebhookPort > 65535 {
		errs = append(errs, fmt.Errorf("--webhook-port=%d: must be a TCP port", o.WebhookPort))
	}
	if o.ClaimGrace <= 0 {
		errs = append(errs, fmt.Errorf("--claim-grace=%s: must be positive", o.ClaimGrace))
	}
	if o.ClaimRetention < o.ClaimGrace+dedup.MinClaimRetentionMargin {
		errs = append(errs, fmt.Errorf("--claim-retention=%s: must be at least --claim-grace plus %s", o.ClaimRetention, dedup.MinClaimRetentionMargin))
	}
	if o.ScanInterval < 0 {
		errs = append(errs, fmt.Errorf("--scan-interval=%s: must be positive, or 0 to disable the scan", o.ScanInterval))
	}
	if _, err := webhook.ParseEnforcement(string(o.Enforcement)); err != nil {
		errs = append(errs, fmt.Errorf("--enforcement: %w", err))
	}
	return errors.Join(errs...)
}
