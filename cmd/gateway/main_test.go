package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/rrguard/rrguard/test/testenv"
)

// TestServeMetricsBehindAuthorization runs the binary's serve against a
// real control plane: once ready, its /metrics is served over TLS (the
// self-signed certificate the manifests ship) only to a caller the API
// server authenticates and authorizes for get on /metrics.
func TestServeMetricsBehindAuthorization(t *testing.T) {
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	o := NewOptions()
	o.Kubeconfig, o.Namespace, o.TLSCertPath = env.KubeconfigFile(t), env.Namespace(t), env.WebhookInstallOptions().LocalServingCertDir
	o.BindAddress, o.Metrics.BindAddress, o.HealthProbeBindAddress = testenv.MustFreeAddr(t), testenv.MustFreeAddr(t), testenv.MustFreeAddr(t)
	o.Zap.DestWriter = io.Discard
	testenv.Serve(t, o.HealthProbeBindAddress, func(ctx context.Context) error { return serve(ctx, o) })
	body := env.ScrapeMetrics(t, o.Metrics.BindAddress, nil)
	for _, want := range []string{"rrguard_gateway_signals_total", "rrguard_gateway_coalesced_signals_total"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
