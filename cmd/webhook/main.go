// Command webhook runs rrguard's validating admission webhook for
// RemediationRequests. It only wires flags to packages webhook and certs.
package main

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/rrguard/rrguard/certs"
	"github.com/rrguard/rrguard/internal/command"
	"github.com/rrguard/rrguard/internal/kube"
	"github.com/rrguard/rrguard/webhook"
)

func main() {
	command.Main("webhook", func(ctx context.Context, args []string) error { return run(ctx, args, serve) })
}

// run parses args and hands the options to serve; tests hand in their own
// serve to check the mapping.
func run(ctx context.Context, args []string, serve func(context.Context, *Options) error) error {
	return command.Run(ctx, "webhook", NewOptions(), args, serve)
}

func serve(ctx context.Context, o *Options) error {
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&o.Zap)))
	log := ctrl.Log.WithName("setup")

	cfg, err := kube.LoadConfig(o.Kubeconfig)
	if err != nil {
		return err
	}
	// Admission is answered within the webhook's timeout; finish in-flight
	// decisions before stopping.
	shutdown := 2 * webhook.WebhookTimeout
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  kube.NewScheme(),
		Metrics:                 metricsserver.Options{BindAddress: o.MetricsBindAddress},
		HealthProbeBindAddress:  o.HealthProbeBindAddress,
		LeaderElection:          o.LeaderElect,
		LeaderElectionID:        kube.WebhookLeaderElectionID,
		LeaderElectionNamespace: o.LeaderElectionNamespace,
		GracefulShutdownTimeout: &shutdown,
		WebhookServer: ctrlwebhook.NewServer(ctrlwebhook.Options{
			Port:    o.WebhookPort,
			CertDir: o.WebhookCertPath,
			TLSOpts: certs.TLSOptions(o.EnableHTTP2),
		}),
	})
	if err != nil {
		return fmt.Errorf("new manager: %w", err)
	}
	co := o.Certs
	co.Mode, co.CertDir = o.CertMode, o.WebhookCertPath
	certReady, err := certs.Setup(ctx, mgr, co)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	if err := webhook.Setup(mgr, webhook.Options{
		ClaimGrace:      o.ClaimGrace,
		ClaimRetention:  o.ClaimRetention,
		Enforcement:     o.Enforcement,
		CountedCreators: o.CountedCreators,
		ScanInterval:    o.ScanInterval,
		Registerer:      metrics.Registry,
		Log:             ctrl.Log,
	}); err != nil {
		return err
	}
	if err := addChecks(mgr, certReady); err != nil {
		return err
	}
	log.Info("Starting the admission webhook", "port", o.WebhookPort, "certMode", o.CertMode,
		"claimGrace", o.ClaimGrace, "claimRetention", o.ClaimRetention, "leaderElect", o.LeaderElect,
		"enforcement", o.Enforcement, "countDeniedCreators", o.CountedCreators.String(), "scanInterval", o.ScanInterval)
	return mgr.Start(ctx)
}

// addChecks adds /healthz, and /readyz: ready once the TLS server serves,
// with a certificate that is ready.
func addChecks(mgr manager.Manager, certReady healthz.Checker) error {
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("add health check ping: %w", err)
	}
	for name, check := range map[string]healthz.Checker{
		"webhook":     mgr.GetWebhookServer().StartedChecker(),
		"certificate": certReady,
	} {
		if err := mgr.AddReadyzCheck(name, check); err != nil {
			return fmt.Errorf("add readiness check %s: %w", name, err)
		}
	}
	return nil
}
