package main

import (
	"context"
	"crypto/x509"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/certs"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/internal/command"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
	"github.com/rrguard/rrguard/webhook"
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
				"--cert-mode=self-signed", "--enable-http2", "--metrics-bind-address=0", "--metrics-secure=false",
				"--metrics-cert-path=/metrics-certs", "--metrics-cert-name=m.crt", "--metrics-cert-key=m.key",
				"--health-probe-bind-address=127.0.0.1:18081", "--leader-elect", "--leader-election-namespace=ops",
				"--claim-grace=3s", "--claim-retention=1h", "--enforcement=warn", "--scan-interval=0",
				"--cert-namespace=sec", "--cert-extra-sans=localhost,127.0.0.1", "--cert-webhook-configuration-name=dev",
			},
			want: func(o *Options) {
				o.Kubeconfig, o.WebhookPort, o.WebhookCertPath = "/etc/kube/config", 10443, "/certs"
				o.CertMode, o.EnableHTTP2 = certs.ModeSelfSigned, true
				o.Metrics = command.MetricsOptions{BindAddress: "0", CertPath: "/metrics-certs", CertName: "m.crt", CertKey: "m.key"}
				o.HealthProbeBindAddress, o.LeaderElect, o.LeaderElectionNamespace = "127.0.0.1:18081", true, "ops"
				o.ClaimGrace, o.ClaimRetention = 3*time.Second, time.Hour
				o.Enforcement, o.ScanInterval = webhook.EnforcementWarn, 0
				o.Certs.Namespace, o.Certs.WebhookConfigurationName = "sec", "dev"
				o.Certs.ExtraDNSNames, o.Certs.ExtraIPs = certs.SplitSANs([]string{"localhost", "127.0.0.1"})
			},
		},
		"an unknown cert mode is refused": {args: []string{"--cert-mode=vault"}, wantErr: "vault"},
		"a retention shorter than the grace is refused": {
			args: []string{"--claim-grace=1m", "--claim-retention=30s"}, wantErr: "--claim-retention",
		},
		"a retention less than 10m over the grace is refused": {
			args: []string{"--claim-grace=1m", "--claim-retention=10m59s"}, wantErr: "--claim-retention",
		},
		"a retention 10m over the grace is accepted": {
			args: []string{"--claim-grace=1m", "--claim-retention=11m"},
			want: func(o *Options) { o.ClaimGrace, o.ClaimRetention = time.Minute, 11*time.Minute },
		},
		"an unknown enforcement is refused": {args: []string{"--enforcement=audit"}, wantErr: `unknown enforcement "audit"`},
		"an empty enforcement is refused":   {args: []string{"--enforcement="}, wantErr: "unknown enforcement"},
		"a negative scan interval is refused": {
			args: []string{"--scan-interval=-1m"}, wantErr: "--scan-interval",
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
	wantMetrics := command.MetricsOptions{BindAddress: ":8080", Secure: true, CertName: "tls.crt", CertKey: "tls.key"}
	if d.WebhookPort != 9443 || d.Metrics != wantMetrics || d.HealthProbeBindAddress != ":8081" ||
		d.LeaderElect || d.ClaimGrace != 60*time.Second || d.ClaimRetention != 24*time.Hour || d.CertMode != certs.ModeFiles || d.EnableHTTP2 ||
		d.Enforcement != webhook.EnforcementDeny || d.ScanInterval != 10*time.Minute {
		t.Errorf("defaults = %+v", d)
	}
}

// TestServeAdmitsOnTheRealAPIServer runs the binary's serve against a real
// control plane that calls it over TLS: ready once serving, a duplicate is
// denied, metrics are served over TLS to an authorized scraper only, and
// cancelling stops it cleanly.
func TestServeAdmitsOnTheRealAPIServer(t *testing.T) {
	env, err := testenv.Start(testenv.Options{ValidatingWebhooks: webhooktest.Configurations()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	wio := env.WebhookInstallOptions()
	metricsAddr, probeAddr := testenv.MustFreeAddr(t), testenv.MustFreeAddr(t)
	o := NewOptions()
	o.Kubeconfig, o.WebhookPort, o.WebhookCertPath = env.KubeconfigFile(t), wio.LocalServingPort, wio.LocalServingCertDir
	o.Metrics.BindAddress, o.Metrics.CertPath, o.HealthProbeBindAddress = metricsAddr, wio.LocalServingCertDir, probeAddr
	o.Zap.DestWriter = io.Discard
	testenv.Serve(t, probeAddr, func(ctx context.Context) error { return serve(ctx, o) })
	ctx := context.Background()

	ns := env.Namespace(t)
	fp, _ := dedup.Fingerprint(dedup.Target{Namespace: ns, Kind: "Deployment", Name: "api"})
	mk := func(name string) *v1alpha1.RemediationRequest {
		return testenv.RemediationRequest(ns, name, fp)
	}
	if err := env.Client.Create(ctx, mk("first")); err != nil {
		t.Fatalf("first create: %v", err)
	}
	err = env.Client.Create(ctx, mk("second"))
	if d, ok := dedup.DenialFromError(err); !ok || d.Holder != "first" {
		t.Fatalf("second create: %v, want a Duplicate denial naming first", err)
	}
	// The namespace's label switches it to warn, read through the
	// binary's namespace cache: poll with dry runs (which write nothing)
	// until the label has reached it.
	nsObj := &corev1.Namespace{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: ns}, nsObj); err != nil {
		t.Fatal(err)
	}
	nsObj.Labels[webhook.EnforcementLabel] = string(webhook.EnforcementWarn)
	if err := env.Client.Update(ctx, nsObj); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for env.Client.Create(ctx, mk("third"), client.DryRunAll) != nil {
		if time.Now().After(deadline) {
			t.Fatal("a dry run in a namespace labelled warn was still denied after 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := env.Client.Create(ctx, mk("third")); err != nil {
		t.Fatalf("create in a namespace labelled warn: %v, want admitted with a warning", err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(wio.LocalServingCAData)
	body := env.ScrapeMetrics(t, metricsAddr, roots)
	for _, want := range []string{
		`rrguard_webhook_admissions_total{decision="warned",reason="Duplicate"}`,
		`rrguard_duplicate_active_fingerprints`,
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
