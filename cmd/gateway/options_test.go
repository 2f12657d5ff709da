package main

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rrguard/rrguard/certs"
	"github.com/rrguard/rrguard/gateway"
)

func TestFlagsMapToOptions(t *testing.T) {
	defaults := NewOptions()
	tests := map[string]struct {
		args  []string
		check func(t *testing.T, o *Options)
	}{
		"no flags give the documented defaults": {
			args: nil,
			check: func(t *testing.T, o *Options) {
				if o.BindAddress != ":8443" || o.MetricsBindAddress != ":9090" || o.HealthProbeBindAddress != ":8081" {
					t.Errorf("addresses = %q %q %q, want :8443 :9090 :8081", o.BindAddress, o.MetricsBindAddress, o.HealthProbeBindAddress)
				}
				if o.CertMode != certs.ModeFiles || o.TLSCertPath == "" || o.EnableHTTP2 {
					t.Errorf("cert mode %q, cert path %q, HTTP/2 %v; want files, a directory, off", o.CertMode, o.TLSCertPath, o.EnableHTTP2)
				}
				if !reflect.DeepEqual(o.Certs, gateway.CertOptions()) {
					t.Errorf("certificate options %+v, want the gateway's %+v", o.Certs, gateway.CertOptions())
				}
				if !reflect.DeepEqual(o.TokenAudiences, []string{"rrguard-gateway"}) || o.MaxRequestsInFlight != 400 || o.MaxTokenReviewsInFlight != 8 {
					t.Errorf("audiences %v, max requests %d, max reviews %d; want [rrguard-gateway], 400, 8", o.TokenAudiences, o.MaxRequestsInFlight, o.MaxTokenReviewsInFlight)
				}
				if o.Auth != "tokenreview" || o.MaxBodyBytes != 1<<20 || o.RequestTimeout != 15*time.Second {
					t.Errorf("auth %q, max body %d, timeout %s; want tokenreview, 1 MiB, 15s", o.Auth, o.MaxBodyBytes, o.RequestTimeout)
				}
				if o.Namespace != defaults.Namespace || o.Kubeconfig != "" || o.ClusterID != "" {
					t.Errorf("namespace %q kubeconfig %q cluster ID %q, want %q and none", o.Namespace, o.Kubeconfig, o.ClusterID, defaults.Namespace)
				}
				if o.RequireManagedLabel {
					t.Error("the managed label is required by default, want every signal counted")
				}
				if o.Zap.Development {
					t.Error("logs default to development mode, want JSON (production)")
				}
			},
		},
		"every flag lands in its field": {
			args: []string{
				"--kubeconfig=/etc/kube/config", "--bind-address=:18080", "--metrics-bind-address=0",
				"--health-probe-bind-address=127.0.0.1:18081", "--namespace=incidents", "--auth=none",
				"--max-body-bytes=2048", "--request-timeout=3s", "--webhook-guarded", "--cluster-id=prod-eu", "--zap-devel",
				"--tls-cert-path=/certs", "--cert-mode=self-signed", "--cert-service-name=gw", "--enable-http2",
				"--token-audiences=a, b,", "--max-requests-inflight=7", "--max-token-reviews-inflight=3",
				"--require-managed-label",
			},
			check: func(t *testing.T, o *Options) {
				want := Options{
					Kubeconfig: "/etc/kube/config", BindAddress: ":18080", MetricsBindAddress: "0",
					HealthProbeBindAddress: "127.0.0.1:18081", Namespace: "incidents", Auth: "none",
					MaxBodyBytes: 2048, RequestTimeout: 3 * time.Second, WebhookGuarded: true, ClusterID: "prod-eu",
					TLSCertPath: "/certs", CertMode: certs.ModeSelfSigned, EnableHTTP2: true,
					TokenAudiences: []string{"a", "b"}, MaxRequestsInFlight: 7, MaxTokenReviewsInFlight: 3,
					RequireManagedLabel: true,
				}
				want.Certs = gateway.CertOptions()
				want.Certs.ServiceName = "gw"
				got := *o
				got.Zap = want.Zap // compared below; it holds functions
				if !reflect.DeepEqual(got, want) {
					t.Errorf("options = %+v, want %+v", got, want)
				}
				if !o.Zap.Development {
					t.Error("--zap-devel did not reach the zap options")
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got *Options
			err := run(context.Background(), tc.args, func(_ context.Context, o *Options) error { got = o; return nil })
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			tc.check(t, got)
		})
	}
}

func TestBadFlagsAreRefusedBeforeServing(t *testing.T) {
	tests := map[string]struct {
		args []string
		want string
	}{
		"an unknown auth mode":       {args: []string{"--auth=basic"}, want: `--auth="basic"`},
		"an empty namespace":         {args: []string{"--namespace="}, want: "--namespace"},
		"a zero body limit":          {args: []string{"--max-body-bytes=0"}, want: "--max-body-bytes"},
		"a negative request timeout": {args: []string{"--request-timeout=-1s"}, want: "--request-timeout"},
		"a disabled signal API":      {args: []string{"--bind-address=0"}, want: "--bind-address"},
		"a blank cluster ID":         {args: []string{"--cluster-id=  "}, want: "--cluster-id"},
		"a cluster ID with a ':'":    {args: []string{"--cluster-id=eu:1"}, want: "--cluster-id"},
		"a cluster ID too long":      {args: []string{"--cluster-id=" + strings.Repeat("c", 254)}, want: "--cluster-id"},
		"no cert directory":          {args: []string{"--tls-cert-path="}, want: "--tls-cert-path"},
		"an unknown cert mode":       {args: []string{"--cert-mode=plain"}, want: "plain"},
		"no audience":                {args: []string{"--token-audiences=,"}, want: "--token-audiences"},
		"no request slots":           {args: []string{"--max-requests-inflight=0"}, want: "--max-requests-inflight"},
		"one review slot":            {args: []string{"--max-token-reviews-inflight=1"}, want: "--max-token-reviews-inflight"},
		"an unknown flag":            {args: []string{"--leader-elect"}, want: "leader-elect"},
		"a stray argument":           {args: []string{"serve"}, want: "unexpected arguments"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			served := false
			err := run(context.Background(), tc.args, func(context.Context, *Options) error { served = true; return nil })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run(%v) error = %v, want one mentioning %q", tc.args, err, tc.want)
			}
			if served {
				t.Error("serve was called despite bad flags")
			}
		})
	}
}
