// Command gateway runs rrguard's signal gateway: it turns Alertmanager and
// Kubernetes Event signals into deduplicated RemediationRequests. It only
// wires flags to package gateway.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/rrguard/rrguard/gateway"
	"github.com/rrguard/rrguard/internal/kube"
)

func main() {
	if err := run(ctrl.SetupSignalHandler(), os.Args[1:], serve); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

// run parses args and hands the options to serve; tests hand in their own
// serve to check the mapping.
func run(ctx context.Context, args []string, serve func(context.Context, *Options) error) error {
	o, err := parseOptions(args)
	if err != nil {
		return err
	}
	return serve(ctx, o)
}

func serve(ctx context.Context, o *Options) error {
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&o.Zap)))
	log := ctrl.Log.WithName("setup")

	cfg, err := kube.LoadConfig(o.Kubeconfig)
	if err != nil {
		return err
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
		return fmt.Errorf("new manager: %w", err)
	}
	if _, err := gateway.Setup(mgr, gateway.Options{
		BindAddress:    o.BindAddress,
		Namespace:      o.Namespace,
		Auth:           o.Auth,
		MaxBodyBytes:   o.MaxBodyBytes,
		RequestTimeout: o.RequestTimeout,
		WebhookGuarded: o.WebhookGuarded,
		ClusterID:      o.ClusterID,
	}); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("add health check: %w", err)
	}
	log.Info("Starting the gateway", "bindAddress", o.BindAddress, "namespace", o.Namespace, "auth", o.Auth, "webhookGuarded", o.WebhookGuarded, "clusterID", o.ClusterID)
	return mgr.Start(ctx)
}
