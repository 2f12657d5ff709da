package certs

import (
	"crypto/tls"
	"fmt"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
)

// TLSOptions returns the serving TLS settings of every rrguard server: TLS
// 1.2 at least, and HTTP/2 off unless enableHTTP2 (HTTP/2's rapid-reset and
// stream-cancellation weaknesses, CVE-2023-44487 and CVE-2023-39325, are
// why the kubebuilder scaffold turns it off too).
func TLSOptions(enableHTTP2 bool) []func(*tls.Config) {
	return []func(*tls.Config){func(c *tls.Config) {
		c.MinVersion = tls.VersionTLS12
		if enableHTTP2 {
			c.NextProtos = []string{"h2", "http/1.1"}
		} else {
			c.NextProtos = []string{"http/1.1"}
		}
	}}
}

// CACertFile is the trust bundle's file in a cert directory: cert-manager
// writes it into the Secret it issues, self-signed mode into the cert
// directory beside the serving pair. A sender verifies the server with it.
const CACertFile = SecretCACertKey

// ServingConfig returns a server TLS configuration that serves the tls.crt
// and tls.key of dir, and the watcher that reloads them when they change (a
// renewal, a remounted Secret): add the watcher to the manager, which runs
// it. It is what controller-runtime's webhook server does for its own cert
// directory, for servers that are not the webhook server.
func ServingConfig(dir string, opts ...func(*tls.Config)) (*tls.Config, *certwatcher.CertWatcher, error) {
	w, err := certwatcher.New(filepath.Join(dir, corev1.TLSCertKey), filepath.Join(dir, corev1.TLSPrivateKeyKey))
	if err != nil {
		return nil, nil, fmt.Errorf("serving certificate in %s: %w", dir, err)
	}
	cfg := &tls.Config{GetCertificate: w.GetCertificate}
	for _, o := range opts {
		o(cfg)
	}
	return cfg, w, nil
}
