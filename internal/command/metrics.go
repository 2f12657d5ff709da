package command

import (
	"crypto/tls"
	"flag"

	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// MetricsOptions are the flags of a binary's /metrics endpoint, named and
// defaulted as kubebuilder's scaffold names them: served over TLS, each
// request authenticated by TokenReview and authorized by
// SubjectAccessReview (get on the non-resource URL /metrics, which the
// metrics-reader ClusterRole grants), unless Secure is off.
type MetricsOptions struct {
	// BindAddress serves /metrics; "0" disables it.
	BindAddress string
	// Secure serves TLS behind authentication and authorization. Defaults
	// to true; false serves plain HTTP to anyone, for local use only.
	Secure bool
	// CertPath is the folder with the metrics certificate, reloaded when it
	// changes. Empty (the default): a self-signed certificate generated at
	// start.
	CertPath string
	// CertName and CertKey are the certificate's and key's file names in
	// CertPath. Default to tls.crt and tls.key.
	CertName, CertKey string
}

// NewMetricsOptions returns the defaults, serving on bindAddress.
func NewMetricsOptions(bindAddress string) MetricsOptions {
	return MetricsOptions{BindAddress: bindAddress, Secure: true, CertName: "tls.crt", CertKey: "tls.key"}
}

// BindFlags binds o's fields to flags on fs, with o's values as defaults.
func (o *MetricsOptions) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.BindAddress, "metrics-bind-address", o.BindAddress, "The address the metrics endpoint binds to. Set \"0\" to disable it.")
	fs.BoolVar(&o.Secure, "metrics-secure", o.Secure, "Serve the metrics endpoint over HTTPS, to callers whose bearer token the API server authenticates (TokenReview) and authorizes for get on /metrics (SubjectAccessReview). --metrics-secure=false serves plain HTTP to anyone: local use only.")
	fs.StringVar(&o.CertPath, "metrics-cert-path", o.CertPath, "The directory that contains the metrics server certificate; empty serves a self-signed one generated at start.")
	fs.StringVar(&o.CertName, "metrics-cert-name", o.CertName, "The name of the metrics server certificate file.")
	fs.StringVar(&o.CertKey, "metrics-cert-key", o.CertKey, "The name of the metrics server key file.")
}

// ServerOptions are controller-runtime's metrics server options for o,
// with tlsOpts (the binary's TLS settings) applied to the TLS listener.
func (o MetricsOptions) ServerOptions(tlsOpts []func(*tls.Config)) metricsserver.Options {
	so := metricsserver.Options{BindAddress: o.BindAddress, SecureServing: o.Secure}
	if !o.Secure {
		return so
	}
	so.TLSOpts = tlsOpts
	so.FilterProvider = filters.WithAuthenticationAndAuthorization
	if o.CertPath != "" {
		so.CertDir, so.CertName, so.KeyName = o.CertPath, o.CertName, o.CertKey
	}
	return so
}
