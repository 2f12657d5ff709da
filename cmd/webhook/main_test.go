package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/certs"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/internal/testenv"
	"github.com/rrguard/rrguard/internal/webhooktest"
)

func TestFlagsMapToOptions(t *testing.T) {
	tests := map[string]struct {
		args    []string
		want    func(o *Options)
		wantErr string
	}{
		"no flags give the documented defaults": {
			want: func(o *Options) {},
		},
		"every flag lands in its field": {
			args: []string{
				"--kubeconfig=/etc/kube/config", "--webhook-port=10443", "--webhook-cert-path=/certs",
				"--cert-mode=self-signed", "--enable-http2", "--metrics-bind-address=0",
				"--health-probe-bind-address=127.0.0.1:18081", "--leader-elect", "--leader-election-namespace=ops",
				"--claim-grace=3s", "--claim-retention=1h",
				"--cert-namespace=sec", "--cert-extra-sans=localhost,127.0.0.1", "--cert-webhook-configuration-name=dev",
			},
			want: func(o *Options) {
				o.Kubeconfig, o.WebhookPort, o.WebhookCertPath = "/etc/kube/config", 10443, "/certs"
				o.CertMode, o.EnableHTTP2, o.MetricsBindAddress = certs.ModeSelfSigned, true, "0"
				o.HealthProbeBindAddress, o.LeaderElect, o.LeaderElectionNamespace = "127.0.0.1:18081", true, "ops"
				o.ClaimGrace, o.ClaimRetention = 3*time.Second, time.Hour
				o.Certs.Namespace, o.Certs.WebhookConfigurationName = "sec", "dev"
				o.Certs.ExtraDNSNames, o.Certs.ExtraIPs = certs.SplitSANs([]string{"localhost", "127.0.0.1"})
			},
		},
		"an unknown cert mode is refused": {args: []string{"--cert-mode=vault"}, wantErr: "vault"},
		"a retention shorter than the grace is refused": {
			args: []string{"--claim-grace=1m", "--claim-retention=30s"}, wantErr: "--claim-retention",
		},
		"a port out of range is refused": {args: []string{"--webhook-port=70000"}, wantErr: "--webhook-port"},
		"a stray argument is refused":    {args: []string{"extra"}, wantErr: "unexpected arguments"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got *Options
			err := run(context.Background(), tc.args, func(_ context.Context, o *Options) error { got = o; return nil })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := NewOptions()
			tc.want(want)
			if want.Zap.Development || got.Zap.Development {
				t.Error("logs default to development mode, want JSON")
			}
			got.Zap, want.Zap = zap.Options{}, zap.Options{} // hold functions; checked above
			if !reflect.DeepEqual(got, want) {
				t.Errorf("options = %+v\nwant      %+v", got, want)
			}
		})
	}
	// The defaults the issue names, spelled out once.
	d := NewOptions()
	if d.WebhookPort != 9443 || d.MetricsBindAddress != ":8080" || d.HealthProbeBindAddress != ":8081" ||
		d.LeaderElect || d.ClaimGrace != 60*time.Second || d.ClaimRetention != 24*time.Hour || d.CertMode != certs.ModeFiles || d.EnableHTTP2 {
		t.Errorf("defaults = %+v", d)
	}
}

// TestServeAdmitsOnTheRealAPIServer runs the binary's serve against a real
// control plane that calls it over TLS: ready once serving, a duplicate is
// denied, metrics are exposed, and cancelling stops it cleanly.
func TestServeAdmitsOnTheRealAPIServer(t *testing.T) {
	env, err := testenv.Start(testenv.Options{ValidatingWebhooks: webhooktest.Configurations()})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.Environment().KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	wio := env.WebhookInstallOptions()
	metricsAddr, probeAddr := testenv.MustFreeAddr(t), testenv.MustFreeAddr(t)
	o := NewOptions()
	o.Kubeconfig, o.WebhookPort, o.WebhookCertPath = kubeconfig, wio.LocalServingPort, wio.LocalServingCertDir
	o.MetricsBindAddress, o.HealthProbeBindAddress = metricsAddr, probeAddr
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
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop within 20s of cancel")
		}
	}()

	if err := waitFor200("http://"+probeAddr+"/readyz", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	ns := env.Namespace(t)
	fp, _ := dedup.Fingerprint(dedup.Target{Namespace: ns, Kind: "Deployment", Name: "api"})
	mk := func(name string) *v1alpha1.RemediationRequest {
		return &v1alpha1.RemediationRequest{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec:       v1alpha1.RemediationRequestSpec{SignalFingerprint: fp, SignalName: "x"},
		}
	}
	if err := env.Client.Create(ctx, mk("first")); err != nil {
		t.Fatalf("first create: %v", err)
	}
	err = env.Client.Create(ctx, mk("second"))
	if d, ok := dedup.DenialFromError(err); !ok || d.Holder != "first" {
		t.Fatalf("second create: %v, want a Duplicate denial naming first", err)
	}
	body, err := get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`rrguard_webhook_admissions_total{decision="allowed",reason="Unique"} 1`,
		`rrguard_webhook_admissions_total{decision="denied",reason="Duplicate"} 1`,
		`rrguard_webhook_admission_duration_seconds_bucket`,
		`rrguard_webhook_claim_conflicts_total 0`,
		`rrguard_webhook_stale_claims_removed_total 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func get(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}

func waitFor200(url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		if _, last = get(url); last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.Join(fmt.Errorf("%s not ready within %s", url, within), last)
}
