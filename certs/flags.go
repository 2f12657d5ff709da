package certs

import (
	"flag"
	"net"
	"strings"
)

// BindFlags binds the certificate details to flags on fs, with o's values
// as defaults (zero values stand for the documented defaults, the
// webhook's; the gateway sets its own names before binding). The mode and
// the cert directory are the binary's own flags (--cert-mode and
// --webhook-cert-path in cmd/webhook, --tls-cert-path in cmd/gateway), so
// BindFlags leaves them alone.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	def := func(v, fallback string) string {
		if v != "" {
			return v
		}
		return fallback
	}
	fs.StringVar(&o.Namespace, "cert-namespace", o.Namespace, "The namespace of the server's Service, Secret and Certificate. Defaults to $POD_NAMESPACE, else the service account's namespace, else "+DefaultNamespace+".")
	fs.StringVar(&o.ServiceName, "cert-service-name", o.ServiceName, "The server's Service; self-signed mode issues the certificate for <name>.<namespace>.svc[.cluster.local]. Defaults to "+def(o.ServiceName, DefaultServiceName)+".")
	fs.StringVar(&o.SecretName, "cert-secret-name", o.SecretName, "The Secret self-signed mode keeps its CA and certificate in. Defaults to "+def(o.SecretName, DefaultSecretName)+".")
	fs.StringVar(&o.WebhookConfigurationName, "cert-webhook-configuration-name", o.WebhookConfigurationName, "The ValidatingWebhookConfiguration self-signed mode writes its CA bundle into; \"-\" for none. Defaults to "+def(o.WebhookConfigurationName, DefaultWebhookConfigurationName)+".")
	fs.StringVar(&o.CertificateName, "cert-certificate-name", o.CertificateName, "The cert-manager Certificate cert-manager mode waits for. Defaults to "+def(o.CertificateName, DefaultCertificateName)+".")
	fs.Var(sansFlag{o}, "cert-extra-sans", "Comma-separated DNS names and IP addresses the self-signed certificate is also issued for (localhost,127.0.0.1 when the server is reached by a URL rather than its Service).")
	fs.DurationVar(&o.CertValidity, "cert-validity", o.CertValidity, "How long a self-signed serving certificate is valid; renewed at two thirds. Defaults to 2160h (90 days).")
	fs.DurationVar(&o.CAValidity, "cert-ca-validity", o.CAValidity, "How long the self-signed CA is valid; renewed at two thirds. Defaults to 87600h (10 years).")
	fs.DurationVar(&o.SyncInterval, "cert-sync-interval", o.SyncInterval, "How often self-signed mode checks its certificates (default 1m) and cert-manager mode polls its Certificate until Ready (default 5s).")
}

// sansFlag reads and writes ExtraDNSNames and ExtraIPs as one list.
type sansFlag struct{ o *Options }

func (f sansFlag) String() string {
	if f.o == nil {
		return ""
	}
	sans := append([]string(nil), f.o.ExtraDNSNames...)
	for _, ip := range f.o.ExtraIPs {
		sans = append(sans, ip.String())
	}
	return strings.Join(sans, ",")
}

func (f sansFlag) Set(s string) error {
	f.o.ExtraDNSNames, f.o.ExtraIPs = SplitSANs(strings.Split(s, ","))
	return nil
}

// SplitSANs sorts subject alternative names into DNS names and IP
// addresses, dropping empty ones.
func SplitSANs(sans []string) (dnsNames []string, ips []net.IP) {
	for _, san := range sans {
		san = strings.TrimSpace(san)
		switch ip := net.ParseIP(san); {
		case san == "":
		case ip != nil:
			ips = append(ips, ip)
		default:
			dnsNames = append(dnsNames, san)
		}
	}
	return dnsNames, ips
}
