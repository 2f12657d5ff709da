package certs

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// SelfSigned keeps one replica's serving certificate in self-signed mode:
// Sync converges the Secret, the cert directory and the webhook
// configuration's CA bundle; Start runs Sync every SyncInterval.
type SelfSigned struct {
	opts   Options
	issuer issuer
	// reader must read the API server directly: a cached read would make
	// every update of a changed Secret a Conflict, or worse, adopt old data.
	reader client.Reader
	writer client.Writer
	log    logr.Logger
	now    func() time.Time

	mu       sync.Mutex
	served   *x509.Certificate // last written to the cert directory
	lastErr  error
	missingC bool // the webhook configuration was missing at the last sync
}

var (
	_ manager.Runnable               = (*SelfSigned)(nil)
	_ manager.LeaderElectionRunnable = (*SelfSigned)(nil)
	_ healthz.Checker                = (*SelfSigned)(nil).Check
)

// NewSelfSigned returns the self-signed loop for opts (defaults applied).
// reader must not be a cache.
func NewSelfSigned(reader client.Reader, writer client.Writer, opts Options, log logr.Logger) *SelfSigned {
	opts = opts.setDefaults()
	return &SelfSigned{opts: opts, issuer: newIssuer(opts), reader: reader, writer: writer, log: log, now: time.Now}
}

// NeedLeaderElection is false: every replica writes its own cert directory.
// The Secret's resourceVersion, not leadership, picks the one writer.
func (s *SelfSigned) NeedLeaderElection() bool { return false }

// Start runs Sync every SyncInterval until ctx ends. A failed Sync is logged
// and retried at the next tick; the certificate already served stays valid
// for a third of its life after renewal became due.
func (s *SelfSigned) Start(ctx context.Context) error {
	t := time.NewTicker(s.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := s.Sync(ctx); err != nil && ctx.Err() == nil {
				s.log.Error(err, "Self-signed certificate sync failed; retrying", "interval", s.opts.SyncInterval)
			}
		}
	}
}

// Check is the readiness check: ready once a Sync has written a serving
// certificate that has not expired.
func (s *SelfSigned) Check(_ *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.served == nil && s.lastErr != nil:
		return fmt.Errorf("no self-signed serving certificate yet: %w", s.lastErr)
	case s.served == nil:
		return errors.New("no self-signed serving certificate yet")
	case !s.now().Before(s.served.NotAfter):
		return fmt.Errorf("self-signed serving certificate expired at %s (last sync error: %v)", s.served.NotAfter.Format(time.RFC3339), s.lastErr)
	}
	return nil
}

// maxSyncAttempts bounds the retries of one Sync after losing a race.
const maxSyncAttempts = 5

// Sync reads the Secret, creates or renews its content where due (losing a
// race to another replica means adopting that replica's content), writes
// the serving pair into the cert directory and the CA bundle into every
// webhook of the configuration.
func (s *SelfSigned) Sync(ctx context.Context) error {
	err := s.sync(ctx)
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
	return err
}

func (s *SelfSigned) sync(ctx context.Context) error {
	var err error
	for range maxSyncAttempts {
		var b *bundle
		b, err = s.syncSecret(ctx)
		if err == nil {
			// The CA bundle first: a new CA must be trusted before any
			// replica serves a certificate it signed.
			err = s.injectCABundle(ctx, b.caPEM())
		}
		if err == nil {
			err = s.writeCertDir(b)
		}
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
			continue // another replica won: read again and adopt its content
		}
		return err
	}
	return fmt.Errorf("gave up after %d attempts: %w", maxSyncAttempts, err)
}

func (s *SelfSigned) secretKey() types.NamespacedName {
	return types.NamespacedName{Namespace: s.opts.Namespace, Name: s.opts.SecretName}
}

// syncSecret returns the content of the Secret after creating or renewing
// it where due. Conflict and AlreadyExists mean another replica wrote first.
func (s *SelfSigned) syncSecret(ctx context.Context) (*bundle, error) {
	key := s.secretKey()
	now := s.now()
	secret := &corev1.Secret{}
	err := s.reader.Get(ctx, key, secret)
	if apierrors.IsNotFound(err) {
		next, _, err := s.issuer.plan(nil, now)
		if err != nil {
			return nil, err
		}
		secret = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, Labels: map[string]string{
				"app.kubernetes.io/name":       "rrguard",
				"app.kubernetes.io/component":  s.opts.Component,
				"app.kubernetes.io/managed-by": "rrguard-" + s.opts.Component,
			}},
			Type: corev1.SecretTypeTLS,
			Data: next.data(),
		}
		if err := s.writer.Create(ctx, secret); err != nil {
			return nil, fmt.Errorf("create secret %s: %w", key, err)
		}
		s.log.Info("Created self-signed CA and serving certificate", "secret", key.String(),
			"caNotAfter", next.cas[0].NotAfter, "certNotAfter", next.cert.NotAfter, "dnsNames", next.cert.DNSNames)
		return next, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get secret %s: %w", key, err)
	}

	cur, err := parseBundle(secret.Data)
	if err != nil {
		s.log.Info("Secret holds no usable certificates; replacing them", "secret", key.String(), "reason", err.Error())
		cur = nil
	}
	next, changes, err := s.issuer.plan(cur, now)
	if err != nil {
		return nil, err
	}
	if next == nil {
		return cur, nil
	}
	// The update carries the resourceVersion read above: if another replica
	// changed the Secret meanwhile, this is a Conflict and nothing is lost.
	secret.Data = next.data()
	if err := s.writer.Update(ctx, secret); err != nil {
		return nil, fmt.Errorf("update secret %s: %w", key, err)
	}
	s.log.Info("Renewed self-signed certificates", "secret", key.String(), "changes", strings.Join(changes, "; "),
		"caNotAfter", next.cas[0].NotAfter, "certNotAfter", next.cert.NotAfter, "trustedCAs", len(next.cas))
	return next, nil
}

// injectCABundle writes ca into every webhook of the configuration. A
// missing configuration is logged, not an error: the webhook can serve
// before it is registered (and is then simply not called).
func (s *SelfSigned) injectCABundle(ctx context.Context, ca []byte) error {
	if !s.opts.injectCABundle() {
		return nil
	}
	name := s.opts.WebhookConfigurationName
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	err := s.reader.Get(ctx, client.ObjectKey{Name: name}, cfg)
	if apierrors.IsNotFound(err) {
		s.mu.Lock()
		first := !s.missingC
		s.missingC = true
		s.mu.Unlock()
		if first {
			s.log.Info("ValidatingWebhookConfiguration not found; will inject the CA bundle once it exists", "name", name)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("get validatingwebhookconfiguration %s: %w", name, err)
	}
	s.mu.Lock()
	s.missingC = false
	s.mu.Unlock()

	orig := cfg.DeepCopy()
	changed := 0
	for i := range cfg.Webhooks {
		if !bytes.Equal(cfg.Webhooks[i].ClientConfig.CABundle, ca) {
			cfg.Webhooks[i].ClientConfig.CABundle = ca
			changed++
		}
	}
	if changed == 0 {
		return nil
	}
	// A strategic merge patch touches only the caBundle of each webhook
	// (merge key: name), and the resourceVersion makes it a compare-and-swap.
	patch := client.StrategicMergeFrom(orig, client.MergeFromWithOptimisticLock{})
	if err := s.writer.Patch(ctx, cfg, patch); err != nil {
		return fmt.Errorf("inject CA bundle into validatingwebhookconfiguration %s: %w", name, err)
	}
	s.log.Info("Injected CA bundle", "validatingWebhookConfiguration", name, "webhooks", changed)
	return nil
}

// writeCertDir writes the serving pair where the server reads it, and the
// trust bundle beside it as ca.crt (the layout of a cert-manager Secret, so
// that a local sender can verify the server with it), each file replaced by
// a rename so that no reader sees half a file. controller-runtime's
// certwatcher reloads the pair.
func (s *SelfSigned) writeCertDir(b *bundle) error {
	dir := s.opts.CertDir
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		// The CA first, as in the webhook configuration: trusted before
		// a certificate it signed is served. Then the key: until the
		// certificate follows, the pair does not match and the
		// certwatcher keeps serving the old one.
		{filepath.Join(dir, CACertFile), b.caPEM(), 0o644},
		{filepath.Join(dir, corev1.TLSPrivateKeyKey), b.tlsKey, 0o600},
		{filepath.Join(dir, corev1.TLSCertKey), b.tlsCrt, 0o644},
	}
	same := true
	for _, f := range files {
		if old, err := os.ReadFile(f.path); err != nil || !bytes.Equal(old, f.data) {
			same = false
		}
	}
	if same {
		s.setServed(b.cert)
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create cert dir: %w", err)
	}
	for _, f := range files {
		if err := writeFileAtomic(f.path, f.data, f.mode); err != nil {
			return err
		}
	}
	s.setServed(b.cert)
	s.log.Info("Wrote serving certificate", "dir", dir, "serial", b.cert.SerialNumber.Text(16), "notAfter", b.cert.NotAfter)
	return nil
}

func (s *SelfSigned) setServed(c *x509.Certificate) {
	s.mu.Lock()
	s.served = c
	s.mu.Unlock()
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // a no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
