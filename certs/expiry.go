package certs

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
)

// ExpiryMetric is the gauge of the served certificate's notAfter.
const ExpiryMetric = "rrguard_serving_certificate_expiration_timestamp_seconds"

// RegisterExpiry registers with reg a gauge of the notAfter, in Unix
// seconds, of the serving certificate in o's cert directory (tls.crt), read
// at each scrape: it follows whatever keeps the file current in every mode
// (self-signed renewal, cert-manager's Secret, a mounted one), so one alert
// covers them all. A scrape that cannot read the certificate leaves the
// gauge out and reports why.
func RegisterExpiry(reg prometheus.Registerer, o Options) error {
	o = o.setDefaults()
	c := expiryCollector{
		desc: prometheus.NewDesc(ExpiryMetric, "When the serving certificate in the cert directory expires (its notAfter), in Unix seconds.", nil, nil),
		file: filepath.Join(o.CertDir, "tls.crt"),
	}
	if err := reg.Register(c); err != nil {
		return fmt.Errorf("register %s: %w", ExpiryMetric, err)
	}
	return nil
}

type expiryCollector struct {
	desc *prometheus.Desc
	file string
}

func (c expiryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c expiryCollector) Collect(ch chan<- prometheus.Metric) {
	leaf, err := readLeaf(c.file)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(leaf.NotAfter.Unix()))
}

// readLeaf returns the first certificate of the PEM file, the one served.
func readLeaf(file string) (*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read the serving certificate: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate in " + file)
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse the serving certificate in %s: %w", file, err)
	}
	return leaf, nil
}
