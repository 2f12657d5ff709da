package certs

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rrguard/rrguard/internal/kube"
)

// Mode says where the serving certificate comes from.
type Mode string

const (
	// ModeFiles serves whatever is in the cert directory.
	ModeFiles Mode = "files"
	// ModeCertManager waits for cert-manager's Certificate to be Ready.
	ModeCertManager Mode = "cert-manager"
	// ModeSelfSigned makes the webhook its own CA.
	ModeSelfSigned Mode = "self-signed"
)

// Modes lists the valid modes, for flag help.
var Modes = []Mode{ModeFiles, ModeCertManager, ModeSelfSigned}

// String implements pflag.Value and flag.Value.
func (m *Mode) String() string { return string(*m) }

// Set implements pflag.Value and flag.Value: it accepts only a known mode.
func (m *Mode) Set(s string) error {
	for _, v := range Modes {
		if string(v) == s {
			*m = v
			return nil
		}
	}
	return fmt.Errorf("unknown cert mode %q: want one of %s", s, modeList())
}

// Type implements pflag.Value.
func (m *Mode) Type() string { return "string" }

func modeList() string {
	names := make([]string, len(Modes))
	for i, v := range Modes {
		names[i] = string(v)
	}
	return strings.Join(names, "|")
}

// Names of the objects in manifests/ (its variants add the "rrguard-" prefix
// to every name) and in webhook.Configuration's defaults.
const (
	DefaultNamespace                = kube.DefaultNamespace
	DefaultServiceName              = kube.WebhookServiceName
	DefaultSecretName               = "rrguard-webhook-server-cert"
	DefaultWebhookConfigurationName = kube.WebhookConfigurationName
	DefaultCertificateName          = "rrguard-serving-cert"
)

// Options configures Setup. The zero value of every field means its default.
type Options struct {
	// Mode selects where the certificate comes from. Defaults to ModeFiles.
	Mode Mode

	// Component is the server the certificate is for, as the labels of
	// the self-signed Secret name it: "webhook" (the default) or
	// "gateway".
	Component string

	// CertDir is the directory the webhook server serves tls.crt and tls.key
	// from (webhook.Options.CertDir). Self-signed mode writes the pair there.
	// Defaults to controller-runtime's default,
	// <os.TempDir()>/k8s-webhook-server/serving-certs.
	CertDir string

	// Namespace holds the webhook's Service, Secret and Certificate. Defaults
	// to $POD_NAMESPACE, else the namespace of the pod's service account,
	// else DefaultNamespace.
	Namespace string

	// ServiceName is the webhook's Service; self-signed mode issues the
	// serving certificate for <ServiceName>.<Namespace>.svc and
	// <ServiceName>.<Namespace>.svc.cluster.local. Defaults to
	// DefaultServiceName.
	ServiceName string

	// SecretName is the Secret that holds the self-signed CA and serving
	// pair. Defaults to DefaultSecretName.
	SecretName string

	// WebhookConfigurationName is the ValidatingWebhookConfiguration whose
	// webhooks get the self-signed CA bundle. Defaults to
	// DefaultWebhookConfigurationName. Set it to "-" to inject nothing.
	WebhookConfigurationName string

	// CertificateName is cert-manager's Certificate in Namespace. Defaults to
	// DefaultCertificateName.
	CertificateName string

	// ExtraDNSNames and ExtraIPs are added to the self-signed serving
	// certificate, for a webhook reached by a URL rather than a Service
	// (localhost, 127.0.0.1 when run locally). Default to none.
	ExtraDNSNames []string
	ExtraIPs      []net.IP

	// CAValidity is how long a self-signed CA is valid. It is renewed once
	// two thirds of it have passed. Defaults to 10 years.
	CAValidity time.Duration

	// CertValidity is how long a self-signed serving certificate is valid
	// (never longer than its CA). It is renewed once two thirds of it have
	// passed. Defaults to 90 days.
	CertValidity time.Duration

	// SyncInterval is how often every replica re-reads the Secret, renews
	// what is due, rewrites its cert directory and checks the CA bundle; and
	// how often cert-manager mode polls the Certificate until it is Ready.
	// A renewed CA signs serving certificates only after two intervals, once
	// every replica has published it. Defaults to 1 minute in self-signed
	// mode and 5 seconds in cert-manager mode.
	SyncInterval time.Duration
}

// Defaults of Options.
const (
	DefaultCAValidity              = 10 * 365 * 24 * time.Hour
	DefaultCertValidity            = 90 * 24 * time.Hour
	DefaultSelfSignedSyncInterval  = time.Minute
	DefaultCertManagerPollInterval = 5 * time.Second
)

// setDefaults returns o with every zero field set to its default.
func (o Options) setDefaults() Options {
	if o.Mode == "" {
		o.Mode = ModeFiles
	}
	if o.Component == "" {
		o.Component = "webhook"
	}
	if o.CertDir == "" {
		o.CertDir = filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs")
	}
	if o.Namespace == "" {
		o.Namespace = kube.PodNamespace(os.Getenv, os.ReadFile, DefaultNamespace)
	}
	if o.ServiceName == "" {
		o.ServiceName = DefaultServiceName
	}
	if o.SecretName == "" {
		o.SecretName = DefaultSecretName
	}
	if o.WebhookConfigurationName == "" {
		o.WebhookConfigurationName = DefaultWebhookConfigurationName
	}
	if o.CertificateName == "" {
		o.CertificateName = DefaultCertificateName
	}
	if o.CAValidity == 0 {
		o.CAValidity = DefaultCAValidity
	}
	if o.CertValidity == 0 {
		o.CertValidity = DefaultCertValidity
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = DefaultSelfSignedSyncInterval
		if o.Mode == ModeCertManager {
			o.SyncInterval = DefaultCertManagerPollInterval
		}
	}
	return o
}

func (o Options) validate() error {
	var m Mode
	if err := m.Set(string(o.Mode)); err != nil {
		return err
	}
	if o.CAValidity < 0 || o.CertValidity < 0 || o.SyncInterval < 0 {
		return fmt.Errorf("cert validity and sync interval must be positive")
	}
	return nil
}

// dnsNames are the names the self-signed serving certificate is issued for.
func (o Options) dnsNames() []string {
	names := []string{
		o.ServiceName + "." + o.Namespace + ".svc",
		o.ServiceName + "." + o.Namespace + ".svc.cluster.local",
	}
	return append(names, o.ExtraDNSNames...)
}

// injectCABundle says whether self-signed mode writes the CA bundle into a
// webhook configuration.
func (o Options) injectCABundle() bool { return o.WebhookConfigurationName != "-" }
