package reference

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rrguard/rrguard/certs"
	"github.com/rrguard/rrguard/gateway/httpapi"
	"github.com/rrguard/rrguard/gateway/pipeline"
	"github.com/rrguard/rrguard/scan"
	"github.com/rrguard/rrguard/webhook"
)

// The metrics each binary registers, as its main and setup do: both
// binaries the serving certificate's expiry (certs.RegisterExpiry, read
// here from a certificate written for it); webhook.Setup the webhook's and,
// for the leader's scan job, the scan's; gateway.Setup the HTTP layer's and
// the pipeline's.
// TestEveryMetricsConstructorIsWired holds these to every NewMetrics of the
// module.
func WebhookMetrics(reg prometheus.Registerer) {
	registerExpiry(reg)
	webhook.NewMetrics(reg)
	scan.NewMetrics(reg)
}

// GatewayMetrics: see WebhookMetrics.
func GatewayMetrics(reg prometheus.Registerer) {
	registerExpiry(reg)
	httpapi.NewMetrics(reg)
	pipeline.NewMetrics(reg)
}

// Verify reads the reference under root and checks binary's section
// against the flags of fs and the metrics register registers.
func Verify(markdown, binary string, flags []Flag, register func(prometheus.Registerer)) ([]string, error) {
	doc, err := ParseDoc(markdown, binary)
	if err != nil {
		return nil, err
	}
	metrics, err := Metrics(register)
	if err != nil {
		return nil, err
	}
	return Check(doc, flags, metrics), nil
}

func registerExpiry(reg prometheus.Registerer) {
	dir, err := certDir()
	if err == nil {
		err = certs.RegisterExpiry(reg, certs.Options{CertDir: dir})
	}
	if err != nil {
		panic(err)
	}
}

// certDir is a directory with a tls.crt for the expiry gauge to read, so
// that it writes a sample that says its type.
var certDir = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "rrguard-reference-")
	if err != nil {
		return "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", err
	}
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return dir, os.WriteFile(filepath.Join(dir, "tls.crt"), pemCert, 0o600)
})
