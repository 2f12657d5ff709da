package certs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
)

// expiry gathers reg and returns the gauge's value, or the gather's error.
func expiry(t *testing.T, reg *prometheus.Registry) (float64, error) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	for _, f := range families {
		if f.GetName() == ExpiryMetric {
			return f.GetMetric()[0].GetGauge().GetValue(), nil
		}
	}
	t.Fatalf("%s not gathered", ExpiryMetric)
	return 0, nil
}

// The gauge follows the certificate in the cert directory as it is
// renewed, and a scrape that cannot read it reports why instead of a value.
func TestTheExpiryGaugeFollowsTheServedCertificate(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	if err := RegisterExpiry(reg, Options{CertDir: dir}); err != nil {
		t.Fatal(err)
	}
	is := testIssuer()
	first, _ := mustPlan(t, is, nil, t0)
	renewed, _ := mustPlan(t, is, first, day(61))
	if !renewed.cert.NotAfter.After(first.cert.NotAfter) {
		t.Fatal("the renewal did not move notAfter; the test cannot tell the two apart")
	}
	for _, b := range []*bundle{first, renewed} {
		if err := os.WriteFile(filepath.Join(dir, corev1.TLSCertKey), b.data()[corev1.TLSCertKey], 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := expiry(t, reg)
		if err != nil || got != float64(b.cert.NotAfter.Unix()) {
			t.Errorf("gauge %v (%v), want notAfter %d", got, err, b.cert.NotAfter.Unix())
		}
	}
	if err := os.WriteFile(filepath.Join(dir, corev1.TLSCertKey), []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := expiry(t, reg); err == nil {
		t.Error("a scrape of an unreadable certificate gave a value, want an error")
	}
}
