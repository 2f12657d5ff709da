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
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/gateway"
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

// The API client's rate limit. client-go's default (5 QPS) would throttle a
// burst of new incidents to a crawl; the API server's priority and fairness
// protects it from more.
const (
	clientQPS   = 100
	clientBurst = 200
)

func serve(ctx context.Context, o *Options) error {
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&o.Zap)))
	log := ctrl.Log.WithName("setup")

	cfg, err := restConfig(o.Kubeconfig)
	if err != nil {
		return err
	}
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = clientQPS, clientBurst
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	// In-flight requests get the request timeout, plus one API call, to
	// finish before the process stops.
	shutdown := o.RequestTimeout + 15*time.Second
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
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
	}); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("add health check: %w", err)
	}
	log.Info("Starting the gateway", "bindAddress", o.BindAddress, "namespace", o.Namespace, "auth", o.Auth, "webhookGuarded", o.WebhookGuarded)
	return mgr.Start(ctx)
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err)
		}
		return cfg, nil
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("find a kubeconfig: %w", err)
	}
	return cfg, nil
}
