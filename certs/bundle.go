package certs

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// Keys of the self-signed Secret. tls.crt and tls.key are the serving pair
// (the Secret has type kubernetes.io/tls); ca.crt is the trust bundle, the
// signing CA first, then older CAs kept until they expire; ca.key is the
// signing CA's key.
const (
	SecretCACertKey = "ca.crt"
	SecretCAKeyKey  = "ca.key"
)

// bundle is what the self-signed Secret holds, parsed.
type bundle struct {
	cas    []*x509.Certificate // trust bundle, signer first
	caKey  []byte              // PEM of the signer's key
	cert   *x509.Certificate   // the serving certificate
	tlsCrt []byte              // PEM of the serving certificate
	tlsKey []byte              // PEM of the serving key
}

// errInvalidBundle wraps every reason a Secret's content is unusable.
var errInvalidBundle = errors.New("invalid certificate bundle")

// parseBundle reads a Secret's data; any defect is an errInvalidBundle.
func parseBundle(data map[string][]byte) (*bundle, error) {
	for _, k := range []string{SecretCACertKey, SecretCAKeyKey, corev1.TLSCertKey, corev1.TLSPrivateKeyKey} {
		if len(data[k]) == 0 {
			return nil, fmt.Errorf("%w: no %s", errInvalidBundle, k)
		}
	}
	cas, err := cert.ParseCertsPEM(data[SecretCACertKey])
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errInvalidBundle, SecretCACertKey, err)
	}
	if _, err := tls.X509KeyPair(encodePEM(cas[0]), data[SecretCAKeyKey]); err != nil {
		return nil, fmt.Errorf("%w: %s does not match the first certificate of %s: %v", errInvalidBundle, SecretCAKeyKey, SecretCACertKey, err)
	}
	pair, err := tls.X509KeyPair(data[corev1.TLSCertKey], data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, fmt.Errorf("%w: serving pair: %v", errInvalidBundle, err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errInvalidBundle, corev1.TLSCertKey, err)
	}
	return &bundle{cas: cas, caKey: data[SecretCAKeyKey], cert: leaf, tlsCrt: data[corev1.TLSCertKey], tlsKey: data[corev1.TLSPrivateKeyKey]}, nil
}

// data is the Secret's data for b.
func (b *bundle) data() map[string][]byte {
	return map[string][]byte{
		SecretCACertKey:         b.caPEM(),
		SecretCAKeyKey:          b.caKey,
		corev1.TLSCertKey:       b.tlsCrt,
		corev1.TLSPrivateKeyKey: b.tlsKey,
	}
}

// caPEM is the trust bundle, as the caBundle of a webhook wants it.
func (b *bundle) caPEM() []byte { return encodePEM(b.cas...) }

// issuer decides and makes the self-signed certificates.
type issuer struct {
	dnsNames     []string
	ips          []net.IP
	caValidity   time.Duration
	certValidity time.Duration
	// publishDelay is how long a new CA is only published (in the trust
	// bundle) before it signs a serving certificate: long enough for every
	// replica to have written it into the webhook configuration.
	publishDelay time.Duration
}

func newIssuer(o Options) issuer {
	return issuer{
		dnsNames:     o.dnsNames(),
		ips:          o.ExtraIPs,
		caValidity:   o.CAValidity,
		certValidity: o.CertValidity,
		publishDelay: 2 * o.SyncInterval,
	}
}

// plan returns what the Secret should hold at now given what it holds (cur,
// nil when it holds nothing usable), and the changes made, or nil when cur
// needs no change.
//
// A CA is renewed once two thirds of its life have passed; the new CA goes
// first in the trust bundle and the old one stays there until it expires. A
// serving certificate is reissued when it is unusable (expired, for other
// names, or not trusted by the bundle) or, once two thirds of its life have
// passed, as soon as the signing CA has been published for publishDelay.
func (is issuer) plan(cur *bundle, now time.Time) (*bundle, []string, error) {
	if cur == nil {
		ca, caKey, err := is.newCA(now)
		if err != nil {
			return nil, nil, err
		}
		next := &bundle{cas: []*x509.Certificate{ca}, caKey: caKey}
		if err := is.issue(next, now); err != nil {
			return nil, nil, err
		}
		return next, []string{"created CA", "issued serving certificate"}, nil
	}

	next := *cur
	var changes []string
	next.cas = slices.DeleteFunc(slices.Clone(cur.cas), func(c *x509.Certificate) bool { return !now.Before(c.NotAfter) })
	if len(next.cas) != len(cur.cas) {
		changes = append(changes, "dropped expired CA")
	}
	if len(next.cas) == 0 || next.cas[0] != cur.cas[0] || renewalDue(cur.cas[0], now) {
		ca, caKey, err := is.newCA(now)
		if err != nil {
			return nil, nil, err
		}
		next.cas = append([]*x509.Certificate{ca}, next.cas...)
		next.caKey = caKey
		changes = append(changes, "renewed CA")
	}

	signer := next.cas[0]
	switch err := is.usable(next.cas, cur.cert, now); {
	case err != nil:
		changes = append(changes, "reissued serving certificate: "+err.Error())
	case renewalDue(cur.cert, now) && !now.Before(signer.NotBefore.Add(is.publishDelay)):
		changes = append(changes, "renewed serving certificate")
	default:
		if len(changes) == 0 {
			return nil, nil, nil
		}
		return &next, changes, nil
	}
	if err := is.issue(&next, now); err != nil {
		return nil, nil, err
	}
	return &next, changes, nil
}

// renewalDue says whether two thirds of c's life have passed.
func renewalDue(c *x509.Certificate, now time.Time) bool {
	life := c.NotAfter.Sub(c.NotBefore)
	return !now.Before(c.NotBefore.Add(life * 2 / 3))
}

// usable says why a serving certificate cannot be served any more, or nil.
func (is issuer) usable(cas []*x509.Certificate, leaf *x509.Certificate, now time.Time) error {
	if !slices.Equal(sorted(leaf.DNSNames), sorted(is.dnsNames)) || !sameIPs(leaf.IPAddresses, is.ips) {
		return fmt.Errorf("names changed from %s to %s", strings.Join(leaf.DNSNames, ","), strings.Join(is.dnsNames, ","))
	}
	roots := x509.NewCertPool()
	for _, c := range cas {
		roots.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("not trusted by the CA bundle: %v", err)
	}
	return nil
}

func (is issuer) newCA(now time.Time) (*x509.Certificate, []byte, error) {
	keyPEM, key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: fmt.Sprintf("rrguard-webhook-ca@%d", now.Unix())},
		NotBefore:             now.UTC(),
		NotAfter:              now.Add(is.caValidity).UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	return ca, keyPEM, nil
}

// issue signs a new serving pair into b with b's signing CA. It never
// outlives the CA.
func (is issuer) issue(b *bundle, now time.Time) error {
	caKey, err := parseKey(b.caKey)
	if err != nil {
		return fmt.Errorf("CA key: %w", err)
	}
	keyPEM, key, err := newKey()
	if err != nil {
		return err
	}
	serial, err := newSerial()
	if err != nil {
		return err
	}
	ca := b.cas[0]
	notAfter := now.Add(is.certValidity)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: is.dnsNames[0]},
		DNSNames:     is.dnsNames,
		IPAddresses:  is.ips,
		NotBefore:    now.UTC(),
		NotAfter:     notAfter.UTC(),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return fmt.Errorf("sign serving certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("parse serving certificate: %w", err)
	}
	b.cert, b.tlsCrt, b.tlsKey = leaf, encodePEM(leaf), keyPEM
	return nil
}

// newKey makes an ECDSA P-256 key: small, fast, and accepted everywhere.
func newKey() ([]byte, crypto.Signer, error) {
	keyPEM, err := keyutil.MakeEllipticPrivateKeyPEM()
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	key, err := parseKey(keyPEM)
	return keyPEM, key, err
}

func parseKey(keyPEM []byte) (crypto.Signer, error) {
	k, err := keyutil.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("parse key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("parse key: %T cannot sign", k)
	}
	return s, nil
}

func newSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generate serial: %w", err)
	}
	return serial.Add(serial, big.NewInt(1)), nil
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func sameIPs(a, b []net.IP) bool {
	key := func(ips []net.IP) []string {
		out := make([]string, len(ips))
		for i, ip := range ips {
			out[i] = ip.String()
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}

// encodePEM encodes certificates as PEM, in order.
func encodePEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: cert.CertificateBlockType, Bytes: c.Raw})...)
	}
	return out
}
