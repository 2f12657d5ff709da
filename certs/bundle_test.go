package certs

import (
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func testIssuer() issuer {
	return newIssuer(Options{
		Namespace: "rrguard-system", ServiceName: "rrguard-webhook-service",
		ExtraDNSNames: []string{"localhost"}, ExtraIPs: []net.IP{net.ParseIP("127.0.0.1")},
		CAValidity: 300 * 24 * time.Hour, CertValidity: 90 * 24 * time.Hour, SyncInterval: time.Minute,
	}.setDefaults())
}

func day(n float64) time.Time { return t0.Add(time.Duration(n * 24 * float64(time.Hour))) }

// mustPlan runs plan and fails the test on error.
func mustPlan(t *testing.T, is issuer, cur *bundle, now time.Time) (*bundle, []string) {
	t.Helper()
	next, changes, err := is.plan(cur, now)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return next, changes
}

// roundTrip stores b as a Secret would and reads it back.
func roundTrip(t *testing.T, b *bundle) *bundle {
	t.Helper()
	got, err := parseBundle(b.data())
	if err != nil {
		t.Fatalf("parse what plan made: %v", err)
	}
	return got
}

func verifies(leaf *x509.Certificate, cas []*x509.Certificate, name string, now time.Time) error {
	roots := x509.NewCertPool()
	for _, c := range cas {
		roots.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

func TestPlanCreatesCAAndServingCertificateForTheServiceNames(t *testing.T) {
	is := testIssuer()
	b, changes := mustPlan(t, is, nil, t0)
	b = roundTrip(t, b)
	if len(changes) != 2 {
		t.Errorf("changes = %v, want CA and serving certificate", changes)
	}
	for _, name := range []string{"rrguard-webhook-service.rrguard-system.svc", "rrguard-webhook-service.rrguard-system.svc.cluster.local", "localhost", "127.0.0.1"} {
		if err := verifies(b.cert, b.cas, name, t0.Add(time.Hour)); err != nil {
			t.Errorf("serving certificate does not verify for %s: %v", name, err)
		}
	}
	if err := verifies(b.cert, b.cas, "other.rrguard-system.svc", t0.Add(time.Hour)); err == nil {
		t.Error("serving certificate verifies for a name it was not issued for")
	}
	if got, want := b.cert.NotAfter.Sub(b.cert.NotBefore), 90*24*time.Hour; got != want {
		t.Errorf("serving certificate lives %s, want %s", got, want)
	}
	if !b.cas[0].IsCA || b.cert.IsCA {
		t.Error("want a CA signing a non-CA serving certificate")
	}
}

func TestPlan(t *testing.T) {
	is := testIssuer()
	first, _ := mustPlan(t, is, nil, t0)
	first = roundTrip(t, first)

	// A serving certificate issued for other names.
	otherNames := newIssuer(Options{Namespace: "elsewhere", SyncInterval: time.Minute}.setDefaults())
	renamed := *first
	if err := otherNames.issue(&renamed, t0); err != nil {
		t.Fatal(err)
	}
	// A serving certificate signed by a CA that is not in the bundle.
	foreign, _ := mustPlan(t, is, nil, t0)
	untrusted := *first
	untrusted.cert, untrusted.tlsCrt, untrusted.tlsKey = foreign.cert, foreign.tlsCrt, foreign.tlsKey

	tests := []struct {
		name string
		cur  *bundle
		now  time.Time
		// want* describe the result; wantNoChange means plan returns nil.
		wantNoChange   bool
		wantChange     string
		wantNewLeaf    bool
		wantNewCA      bool
		wantTrustedCAs int
	}{
		{name: "a fresh bundle needs no change", cur: first, now: day(1), wantNoChange: true},
		{name: "a serving certificate just short of two thirds of its life is kept", cur: first, now: day(59.9), wantNoChange: true},
		{name: "a serving certificate two thirds through its life is renewed by the same CA", cur: first, now: day(60),
			wantChange: "renewed serving certificate", wantNewLeaf: true, wantTrustedCAs: 1},
		{name: "an expired serving certificate is reissued", cur: first, now: day(91),
			wantChange: "reissued serving certificate", wantNewLeaf: true, wantTrustedCAs: 1},
		{name: "a serving certificate for other names is reissued at once", cur: &renamed, now: day(1),
			wantChange: "names changed", wantNewLeaf: true, wantTrustedCAs: 1},
		{name: "a serving certificate the bundle does not trust is reissued at once", cur: &untrusted, now: day(1),
			wantChange: "not trusted", wantNewLeaf: true, wantTrustedCAs: 1},
		{name: "a CA two thirds through its life is renewed and the old CA stays trusted", cur: first, now: day(200),
			wantChange: "renewed CA", wantNewCA: true, wantNewLeaf: true, wantTrustedCAs: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			next, changes := mustPlan(t, is, tc.cur, tc.now)
			if tc.wantNoChange {
				if next != nil {
					t.Fatalf("plan changed %v, want no change", changes)
				}
				return
			}
			if next == nil {
				t.Fatal("plan made no change")
			}
			next = roundTrip(t, next)
			if !strings.Contains(strings.Join(changes, "; "), tc.wantChange) {
				t.Errorf("changes = %v, want one containing %q", changes, tc.wantChange)
			}
			if got := next.cert.SerialNumber.Cmp(tc.cur.cert.SerialNumber) != 0; got != tc.wantNewLeaf {
				t.Errorf("new serving certificate = %v, want %v", got, tc.wantNewLeaf)
			}
			if got := !next.cas[0].Equal(tc.cur.cas[0]); got != tc.wantNewCA {
				t.Errorf("new CA = %v, want %v", got, tc.wantNewCA)
			}
			if len(next.cas) != tc.wantTrustedCAs {
				t.Errorf("trust bundle holds %d CAs, want %d", len(next.cas), tc.wantTrustedCAs)
			}
			if err := verifies(next.cert, next.cas, "rrguard-webhook-service.rrguard-system.svc", tc.now); err != nil {
				t.Errorf("serving certificate does not verify against the bundle: %v", err)
			}
		})
	}
}

// A CA rotation, step by step: the new CA is published beside the old one;
// a serving certificate due for renewal is signed by the new CA only after
// the publish delay; the old CA leaves the bundle when it expires; and no
// serving certificate ever outlives its CA.
func TestPlanRotatesTheCAWithoutServingAnUntrustedCertificate(t *testing.T) {
	is := testIssuer() // CA 300 days (due at 200), serving 90 days (due at 60)
	b, _ := mustPlan(t, is, nil, t0)

	// Day 180: the expired serving certificate is reissued by the first CA,
	// valid until day 270 and due for renewal at day 240.
	b, _ = mustPlan(t, is, roundTrip(t, b), day(180))
	b = roundTrip(t, b)
	oldCA := b.cas[0]
	if err := b.cert.CheckSignatureFrom(oldCA); err != nil {
		t.Fatalf("day 180: serving certificate not signed by the CA: %v", err)
	}

	// Day 201: the CA is due; a new one goes first, the old one stays, and the
	// serving certificate (due only at day 240) is kept.
	next, changes := mustPlan(t, is, b, day(201))
	b = roundTrip(t, next)
	if len(b.cas) != 2 || !b.cas[1].Equal(oldCA) {
		t.Fatalf("day 201: bundle = %d CAs (changes %v), want the new CA then the old one", len(b.cas), changes)
	}
	newCA := b.cas[0]
	if err := b.cert.CheckSignatureFrom(oldCA); err != nil {
		t.Fatalf("day 201: serving certificate was reissued along with the CA: %v", err)
	}

	// Had the CA been renewed only at day 240, within the publish delay the
	// serving certificate, although due, would stay signed by a published CA.
	fresh := *b
	freshCA, freshKey, err := is.newCA(day(240))
	if err != nil {
		t.Fatal(err)
	}
	fresh.cas = append([]*x509.Certificate{freshCA}, b.cas...)
	fresh.caKey = freshKey
	if next, changes := mustPlan(t, is, roundTrip(t, &fresh), day(240).Add(is.publishDelay/2)); next != nil {
		t.Fatalf("serving certificate changed within the publish delay of its new CA: %v", changes)
	}

	// Day 241: the serving certificate is due and the new CA long published.
	next, _ = mustPlan(t, is, b, day(241))
	b = roundTrip(t, next)
	if err := b.cert.CheckSignatureFrom(newCA); err != nil {
		t.Fatalf("day 241: serving certificate not renewed by the new CA: %v", err)
	}
	if len(b.cas) != 2 {
		t.Fatalf("day 241: old CA left the bundle before it expired")
	}

	// Day 301: the old CA has expired and leaves the bundle.
	next, changes = mustPlan(t, is, b, day(301))
	b = roundTrip(t, next)
	if len(b.cas) != 1 || !b.cas[0].Equal(newCA) {
		t.Fatalf("day 301: bundle = %d CAs (changes %v), want the new CA alone", len(b.cas), changes)
	}
}

func TestPlanNeverIssuesACertificateThatOutlivesItsCA(t *testing.T) {
	// A CA of 100 days is renewed at day 66.7; a 90-day certificate issued
	// at day 50 would end at day 140, after the CA.
	is := testIssuer()
	is.caValidity = 100 * 24 * time.Hour
	b, _ := mustPlan(t, is, nil, t0)
	b = roundTrip(t, b)
	b.cert.DNSNames = []string{"stale"} // forces a reissue
	next, _ := mustPlan(t, is, b, day(50))
	next = roundTrip(t, next)
	var signer *x509.Certificate
	for _, ca := range next.cas {
		if next.cert.CheckSignatureFrom(ca) == nil {
			signer = ca
		}
	}
	if signer == nil {
		t.Fatal("serving certificate signed by no CA in the bundle")
	}
	if !signer.Equal(b.cas[0]) {
		t.Fatal("the CA was renewed; this test wants the old CA to sign")
	}
	if next.cert.NotAfter.After(signer.NotAfter) {
		t.Errorf("serving certificate ends %s, after its CA (%s)", next.cert.NotAfter, signer.NotAfter)
	}
}

func TestParseBundleRejectsDefectiveSecrets(t *testing.T) {
	good, _, err := testIssuer().plan(nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := testIssuer().plan(nil, t0)
	with := func(k string, v []byte) map[string][]byte {
		d := good.data()
		if v == nil {
			delete(d, k)
		} else {
			d[k] = v
		}
		return d
	}
	tests := []struct {
		name string
		data map[string][]byte
	}{
		{"an empty Secret", nil},
		{"a Secret without the CA key", with(SecretCAKeyKey, nil)},
		{"a Secret without tls.crt", with(corev1.TLSCertKey, nil)},
		{"a CA key that does not match the CA", with(SecretCAKeyKey, other.caKey)},
		{"a serving key that does not match the certificate", with(corev1.TLSPrivateKeyKey, other.tlsKey)},
		{"a CA bundle that is not PEM", with(SecretCACertKey, []byte("not a certificate"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseBundle(tc.data); !errors.Is(err, errInvalidBundle) {
				t.Errorf("parseBundle = %v, want errInvalidBundle", err)
			}
		})
	}
	if _, err := parseBundle(good.data()); err != nil {
		t.Errorf("parseBundle(good) = %v", err)
	}
}

func TestModeFlagAcceptsOnlyKnownModes(t *testing.T) {
	// An empty want: refused.
	for in, want := range map[string]Mode{
		"files": ModeFiles, "cert-manager": ModeCertManager, "self-signed": ModeSelfSigned,
		"selfsigned": "", "": "",
	} {
		var m Mode
		err := m.Set(in)
		if m != want || (err != nil) != (want == "") {
			t.Errorf("Set(%q) = %q, %v; want %q", in, m, err, want)
		}
	}
}

func TestOptionsDefaults(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "from-downward-api")
	o := Options{}.setDefaults()
	if o.Mode != ModeFiles || o.Namespace != "from-downward-api" || o.ServiceName != DefaultServiceName ||
		o.SecretName != DefaultSecretName || o.WebhookConfigurationName != DefaultWebhookConfigurationName ||
		o.CertificateName != DefaultCertificateName || o.CAValidity != DefaultCAValidity ||
		o.CertValidity != DefaultCertValidity || o.SyncInterval != DefaultSelfSignedSyncInterval || o.CertDir == "" {
		t.Errorf("defaults = %+v", o)
	}
	if got := (Options{Mode: ModeCertManager}).setDefaults().SyncInterval; got != DefaultCertManagerPollInterval {
		t.Errorf("cert-manager poll interval = %s, want %s", got, DefaultCertManagerPollInterval)
	}
}
