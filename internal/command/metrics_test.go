package command

import (
	"crypto/tls"
	"flag"
	"testing"
)

func TestMetricsServerOptions(t *testing.T) {
	tlsOpts := []func(*tls.Config){func(c *tls.Config) { c.MinVersion = tls.VersionTLS13 }}
	tests := map[string]struct {
		args                []string
		wantSecure          bool
		wantCertDir, wantKN string
	}{
		"the default is TLS behind authentication and authorization, a generated certificate": {
			wantSecure: true,
		},
		"a certificate folder is watched, with the file names given": {
			args:       []string{"--metrics-cert-path=/certs", "--metrics-cert-key=m.key"},
			wantSecure: true, wantCertDir: "/certs", wantKN: "m.key",
		},
		"plain HTTP only when asked, and then no filter either": {
			args: []string{"--metrics-secure=false", "--metrics-cert-path=/certs"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o := NewMetricsOptions(":8080")
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			o.BindFlags(fs)
			if err := fs.Parse(append([]string{"--metrics-bind-address=:9999"}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			so := o.ServerOptions(tlsOpts)
			if so.BindAddress != ":9999" || so.SecureServing != tc.wantSecure {
				t.Errorf("bind %q secure %v, want :9999 %v", so.BindAddress, so.SecureServing, tc.wantSecure)
			}
			if (so.FilterProvider != nil) != tc.wantSecure || (len(so.TLSOpts) == 1) != tc.wantSecure {
				t.Errorf("filter set %v, TLS options %d; want the filter and the TLS options exactly when secure", so.FilterProvider != nil, len(so.TLSOpts))
			}
			if so.CertDir != tc.wantCertDir || so.KeyName != tc.wantKN {
				t.Errorf("cert dir %q key %q, want %q %q", so.CertDir, so.KeyName, tc.wantCertDir, tc.wantKN)
			}
			if tc.wantCertDir != "" && so.CertName != "tls.crt" {
				t.Errorf("cert name %q, want the default tls.crt", so.CertName)
			}
		})
	}
}
