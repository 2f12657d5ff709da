package certs

import (
	"flag"
	"net"
	"reflect"
	"testing"
	"time"
)

func TestBindFlagsMapsEveryFlagToOptions(t *testing.T) {
	tests := map[string]struct {
		args []string
		want Options
	}{
		"no flags leave every field to its default": {args: nil, want: Options{}},
		"every flag sets its field": {
			args: []string{
				"--cert-namespace=ns", "--cert-service-name=svc", "--cert-secret-name=sec",
				"--cert-webhook-configuration-name=vwc", "--cert-certificate-name=crt",
				"--cert-extra-sans=localhost, 127.0.0.1,::1,webhook.local,",
				"--cert-validity=1h", "--cert-ca-validity=24h", "--cert-sync-interval=5s",
			},
			want: Options{
				Namespace: "ns", ServiceName: "svc", SecretName: "sec", WebhookConfigurationName: "vwc", CertificateName: "crt",
				ExtraDNSNames: []string{"localhost", "webhook.local"}, ExtraIPs: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
				CertValidity: time.Hour, CAValidity: 24 * time.Hour, SyncInterval: 5 * time.Second,
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var o Options
			fs := flag.NewFlagSet("webhook", flag.ContinueOnError)
			o.BindFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(o, tc.want) {
				t.Errorf("options = %+v\nwant      %+v", o, tc.want)
			}
			if got := fs.Lookup("cert-extra-sans").Value.String(); len(tc.args) > 0 && got != "localhost,webhook.local,127.0.0.1,::1" {
				t.Errorf("--cert-extra-sans reads back as %q", got)
			}
		})
	}
}
