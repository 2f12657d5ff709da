// Command gateway runs rrguard's signal gateway: it turns Alertmanager and
// Kubernetes Event signals into deduplicated RemediationRequests. It only
// wires flags to package gateway.
package main

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/rrguard/rrguard/certs"
	"github.com/rrguard/rrguard/gateway"
	"github.com/rrguard/rrguard/internal/command"
	"github.com/rrguard/rrguard/internal/kube"
)

func main() {
	command.Main("gateway", func(ctx context.Context, args []string) error { return run(ctx, args, serve) })
}

// run parses args and hands the options to serve; tests hand in their own
// serve to check the mapping.
func run(ctx context.Context, args []string, serve func(context.Context, *Options) error) error {
	return command.Run(ctx, "gateway", NewOptions(), args, serve)
}

func serve(ctx context.Context, o *Options) error {
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&o.Zap)))
	log := ctrl.Log.WithName("setup")

	mgr, err := newManager(o)
	if err != nil {
		return err
	}
	co := o.Certs
	co.Mode, co.CertDir = o.CertMode, o.TLSCertPath
	certReady, err := certs.Setup(ctx, mgr, co)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	if err := gateway.Setup(mgr, gateway.Options{
		BindAddress:             o.BindAddress,
		CertDir:                 o.TLSCertPath,
		EnableHTTP2:             o.EnableHTTP2,
		Namespace:               o.Namespace,
		Auth:                    o.Auth,
		Audiences:               o.TokenAudiences,
		MaxRequestsInFlight:     o.MaxRequestsInFlight,
		MaxTokenReviewsInFlight: o.MaxTokenReviewsInFlight,
		MaxBodyBytes:            o.MaxBodyBytes,
		RequestTimeout:          o.RequestTimeout,
		WebhookGuarded:          o.WebhookGuarded,
		ClusterID:               o.ClusterID,
		RequireManagedLabel:     o.RequireManagedLabel,
	}); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("add health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("certificate", certReady); err != nil {
		return fmt.Errorf("add readiness check: %w", err)
	}
	log.Info("Starting the gateway", "bindAddress", o.BindAddress, "certMode", o.CertMode, "namespace", o.Namespace,
		"auth", o.Auth, "tokenAudiences", o.TokenAudiences, "webhookGuarded", o.WebhookGuarded, "clusterID", o.ClusterID,
		"requireManagedLabel", o.RequireManagedLabel)
	return mgr.Start(ctx)
}

// newManager returns the manager every part of the gateway runs in.
func newManager(o *Options) (ctrl.Manager, error) {
	cfg, err := kube.LoadConfig(o.Kubeconfig)
	if err != nil {
		return nil, err
	}
	// In-flight requests are answered before the process stops.
	shutdown := gateway.ShutdownTimeout(o.RequestTimeout)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  kube.NewScheme(),
		Metrics:                 metricsserver.Options{BindAddress: o.MetricsBindAddress},
		HealthProbeBindAddress:  o.HealthProbeBindAddress,
		GracefulShutdownTimeout: &shutdown,
		// The gateway reads only through the APIReader; a cache, if
		// anything ever starts one, stays within its namespace.
		Cache: cache.Options{DefaultNamespaces: map[string]cache.Config{o.Namespace: {}}},
	})
	if err != nil {
		return nil, fmt.Errorf("new manager: %w", err)
	}
	return mgr, nil
}
