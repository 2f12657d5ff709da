package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	defer env.Stop()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.Environment().KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	o := NewOptions()
	o.Kubeconfig, o.Namespace, o.TLSCertPath = kubeconfig, env.Namespace(t), env.WebhookInstallOptions().LocalServingCertDir
	o.BindAddress, o.Metrics.BindAddress, o.HealthProbeBindAddress = testenv.MustFreeAddr(t), testenv.MustFreeAddr(t), testenv.MustFreeAddr(t)
	o.Zap.DestWriter = io.Discard

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, o) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v after cancel, want nil", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("serve did not stop within 60s of cancel")
		}
	}()
	if err := waitFor200("http://"+o.HealthProbeBindAddress+"/readyz", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	body := env.ScrapeMetrics(t, o.Metrics.BindAddress, nil)
	for _, want := range []string{"rrguard_gateway_signals_total", "rrguard_gateway_coalesced_signals_total"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func waitFor200(url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready within %s: %w", within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
