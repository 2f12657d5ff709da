package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/cert"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/rrguard/rrguard/test/testenv"
	rrwebhook "github.com/rrguard/rrguard/webhook"
)

const testService = "rrguard-webhook-service"

// newWebhookConfiguration registers one webhook per URL for CREATE of
// ConfigMaps in namespace ns, without a CA bundle.
func newWebhookConfiguration(t *testing.T, ns string, urls ...string) string {
	t.Helper()
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{GenerateName: "certs-test-"}}
	for i, url := range urls {
		cfg.Webhooks = append(cfg.Webhooks, admissionregistrationv1.ValidatingWebhook{
			Name:                    fmt.Sprintf("w%d.certs.rrguard.test", i),
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: ptr.To(url)},
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create}, Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}}}},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}},
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          ptr.To[int32](5),
		})
	}
	if err := env.Client.Create(context.Background(), cfg); err != nil {
		t.Fatalf("create webhook configuration: %v", err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), cfg) })
	return cfg.Name
}

func testOptions(t *testing.T, ns, secret, webhookConfiguration string) Options {
	return Options{
		Mode: ModeSelfSigned, CertDir: t.TempDir(), Namespace: ns, ServiceName: testService,
		SecretName: secret, WebhookConfigurationName: webhookConfiguration,
	}
}

// checkServed returns what is wrong with the certificates the replicas
// serve from dirs, judged as the API server judges them: by the CA bundle of
// every webhook in the configuration, for the Service's name. With
// oneCertificate, it also wants every replica to serve the Secret's.
func checkServed(ctx context.Context, ns, secretName, webhookConfiguration string, dirs []string, oneCertificate bool) error {
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: webhookConfiguration}, cfg); err != nil {
		return err
	}
	caBundle := cfg.Webhooks[0].ClientConfig.CABundle
	for _, w := range cfg.Webhooks {
		if !bytes.Equal(w.ClientConfig.CABundle, caBundle) {
			return fmt.Errorf("webhook %s has another CA bundle than %s", w.Name, cfg.Webhooks[0].Name)
		}
	}
	roots, err := cert.NewPoolFromBytes(caBundle)
	if err != nil {
		return fmt.Errorf("CA bundle: %w", err)
	}
	secret := &corev1.Secret{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: secretName}, secret); err != nil {
		return err
	}
	var errs []error
	for i, dir := range dirs {
		crt, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
		pair, err := tls.LoadX509KeyPair(crt, key)
		if err != nil {
			errs = append(errs, fmt.Errorf("replica %d: %w", i, err))
			continue
		}
		leaf, _ := x509.ParseCertificate(pair.Certificate[0])
		name := testService + "." + ns + ".svc"
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
			errs = append(errs, fmt.Errorf("replica %d serves a certificate the API server does not trust: %w", i, err))
		}
		if served, _ := os.ReadFile(crt); oneCertificate && !bytes.Equal(served, secret.Data["tls.crt"]) {
			errs = append(errs, fmt.Errorf("replica %d serves another certificate than the Secret's", i))
		}
	}
	return errors.Join(errs...)
}

func TestSelfSignedSyncCreatesTheSecretInjectsTheCABundleAndWritesTheCertDir(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	vwc := newWebhookConfiguration(t, "no-such-namespace", "https://localhost:1/a", "https://localhost:1/b")
	opts := testOptions(t, ns, "webhook-cert", vwc)
	s := NewSelfSigned(env.Client, env.Client, opts, testr.New(t))

	if err := s.Check(nil); err == nil {
		t.Fatal("ready before the first sync")
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}

	secret := &corev1.Secret{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "webhook-cert"}, secret); err != nil {
		t.Fatalf("get Secret: %v", err)
	}
	if secret.Type != corev1.SecretTypeTLS {
		t.Errorf("Secret type = %s, want %s", secret.Type, corev1.SecretTypeTLS)
	}
	for _, k := range []string{"ca.crt", "ca.key", "tls.crt", "tls.key"} {
		if len(secret.Data[k]) == 0 {
			t.Errorf("Secret has no %s", k)
		}
	}
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: vwc}, cfg); err != nil {
		t.Fatal(err)
	}
	for _, w := range cfg.Webhooks {
		if !bytes.Equal(w.ClientConfig.CABundle, secret.Data["ca.crt"]) {
			t.Errorf("webhook %s: caBundle is not the Secret's ca.crt", w.Name)
		}
	}
	if err := checkServed(ctx, ns, "webhook-cert", vwc, []string{opts.CertDir}, true); err != nil {
		t.Error(err)
	}
	if err := s.Check(nil); err != nil {
		t.Errorf("not ready after a sync: %v", err)
	}

	// A second sync changes nothing.
	rv := secret.ResourceVersion
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "webhook-cert"}, secret); err != nil {
		t.Fatal(err)
	}
	if secret.ResourceVersion != rv {
		t.Error("a second sync rewrote a Secret that needed no change")
	}
}

func TestSelfSignedSyncWithoutAWebhookConfigurationStillServes(t *testing.T) {
	ns := env.Namespace(t)
	opts := testOptions(t, ns, "webhook-cert", "not-created-yet")
	s := NewSelfSigned(env.Client, env.Client, opts, testr.New(t))
	if err := s.Sync(context.Background()); err != nil {
		t.Fatalf("Sync without a webhook configuration: %v", err)
	}
	if _, err := tls.LoadX509KeyPair(filepath.Join(opts.CertDir, "tls.crt"), filepath.Join(opts.CertDir, "tls.key")); err != nil {
		t.Errorf("cert dir: %v", err)
	}
}

func TestSelfSignedSyncReplacesASecretWithUnusableContent(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	garbage := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "webhook-cert"}, Data: map[string][]byte{"tls.crt": []byte("junk")}}
	if err := env.Client.Create(ctx, garbage); err != nil {
		t.Fatal(err)
	}
	vwc := newWebhookConfiguration(t, "no-such-namespace", "https://localhost:1/a")
	opts := testOptions(t, ns, "webhook-cert", vwc)
	if err := NewSelfSigned(env.Client, env.Client, opts, testr.New(t)).Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if err := checkServed(ctx, ns, "webhook-cert", vwc, []string{opts.CertDir}, true); err != nil {
		t.Error(err)
	}
}

// syncer is one replica's way of getting its certificate.
type syncer func(ctx context.Context, opts Options) error

// rrguardSync is one replica's first Sync, as Setup runs it.
func rrguardSync(ctx context.Context, opts Options) error {
	return NewSelfSigned(env.Client, env.Client, opts, logr.Discard()).Sync(ctx)
}

// naiveSync is the usual first attempt: every replica generates its own
// certificate at start, writes it for its server and pushes it and its CA
// to the API, the last writer winning (no resourceVersion).
func naiveSync(ctx context.Context, opts Options) error {
	opts = opts.setDefaults()
	b, _, err := newIssuer(opts).plan(nil, time.Now())
	if err != nil {
		return err
	}
	s := &SelfSigned{opts: opts, log: logr.Discard()}
	if err := s.writeCertDir(b); err != nil {
		return err
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: opts.Namespace, Name: opts.SecretName}, Type: corev1.SecretTypeTLS, Data: b.data()}
	if err := env.Client.Create(ctx, secret); apierrors.IsAlreadyExists(err) {
		secret.ResourceVersion = ""
		err = env.Client.Update(ctx, secret)
		if err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: opts.WebhookConfigurationName}, cfg); err != nil {
		return err
	}
	orig := cfg.DeepCopy()
	for i := range cfg.Webhooks {
		cfg.Webhooks[i].ClientConfig.CABundle = b.caPEM()
	}
	return env.Client.Patch(ctx, cfg, client.MergeFrom(orig))
}

// raceReplicas starts replicas at once, each syncing into its own cert dir
// against one fresh Secret and webhook configuration, and returns how many
// of rounds ended with a replica serving a certificate the API server would
// refuse, or with replicas disagreeing.
func raceReplicas(t *testing.T, syncFn syncer, rounds, replicas int) (bad int) {
	ctx := context.Background()
	ns := env.Namespace(t)
	for round := range rounds {
		vwc := newWebhookConfiguration(t, "no-such-namespace", "https://localhost:1/a", "https://localhost:1/b")
		secretName := fmt.Sprintf("webhook-cert-%d", round)
		dirs := make([]string, replicas)
		opts := make([]Options, replicas)
		for i := range replicas {
			opts[i] = testOptions(t, ns, secretName, vwc)
			dirs[i] = opts[i].CertDir
		}
		errs := make(chan error, replicas)
		testenv.AtOnce(replicas, func(i int) { errs <- syncFn(ctx, opts[i]) })
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: sync: %v", round, err)
			}
		}
		if err := checkServed(ctx, ns, secretName, vwc, dirs, true); err != nil {
			bad++
			t.Logf("round %d: %v", round, err)
		}
	}
	return bad
}

// Every replica runs the same loop at the same moment: exactly one
// certificate must win, and every replica must serve it.
func TestSelfSignedReplicasStartingTogetherConvergeOnOneCertificate(t *testing.T) {
	if bad := raceReplicas(t, rrguardSync, 10, 4); bad != 0 {
		t.Errorf("%d of 10 rounds of 4 simultaneous replicas ended with a replica serving an untrusted or different certificate", bad)
	}
}

// The same load with the naive variant shows what the test guards against:
// replicas serving certificates the API server does not trust.
func TestNaiveReplicasStartingTogetherServeUntrustedCertificates(t *testing.T) {
	if bad := raceReplicas(t, naiveSync, 10, 4); bad == 0 {
		t.Error("the naive variant converged in every round: the convergence test above could not fail")
	}
}

// Rotation, on the real API server with a controlled clock: a renewed
// serving certificate replaces the old one in every replica, and a renewed
// CA is trusted before it signs anything.
func TestSelfSignedRotationReplacesTheCertificateInEveryReplica(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	vwc := newWebhookConfiguration(t, "no-such-namespace", "https://localhost:1/a")
	now := t0
	clock := func() time.Time { return now }
	var replicas []*SelfSigned
	var dirs []string
	for range 2 {
		opts := testOptions(t, ns, "webhook-cert", vwc)
		opts.CAValidity, opts.CertValidity = 300*24*time.Hour, 90*24*time.Hour
		s := NewSelfSigned(env.Client, env.Client, opts, testr.New(t))
		s.now = clock
		replicas, dirs = append(replicas, s), append(dirs, opts.CertDir)
	}
	syncAll := func(step string) {
		t.Helper()
		for i, s := range replicas {
			if err := s.Sync(ctx); err != nil {
				t.Fatalf("%s: replica %d: %v", step, i, err)
			}
		}
		if err := checkServedAt(ctx, ns, vwc, dirs, now); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	served := func() *x509.Certificate {
		t.Helper()
		pair, err := tls.LoadX509KeyPair(filepath.Join(dirs[1], "tls.crt"), filepath.Join(dirs[1], "tls.key"))
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(pair.Certificate[0])
		return leaf
	}
	caBundle := func() []*x509.Certificate {
		t.Helper()
		cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: vwc}, cfg); err != nil {
			t.Fatal(err)
		}
		cas, err := cert.ParseCertsPEM(cfg.Webhooks[0].ClientConfig.CABundle)
		if err != nil {
			t.Fatal(err)
		}
		return cas
	}

	syncAll("day 0")
	first, firstCA := served(), caBundle()[0]

	now = day(61) // the serving certificate is two thirds through its life
	syncAll("day 61")
	second := served()
	if second.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatal("day 61: the serving certificate was not renewed")
	}
	if err := second.CheckSignatureFrom(firstCA); err != nil || len(caBundle()) != 1 {
		t.Fatalf("day 61: renewal changed the CA (bundle of %d): %v", len(caBundle()), err)
	}

	now = day(150)
	syncAll("day 150") // serving certificate renewed again, valid to day 240, due at day 210
	now = day(201)     // the CA is two thirds through its life
	syncAll("day 201")
	if cas := caBundle(); len(cas) != 2 || !cas[1].Equal(firstCA) {
		t.Fatalf("day 201: CA bundle has %d CAs, want the new CA and the old one", len(cas))
	}
	if err := served().CheckSignatureFrom(firstCA); err != nil {
		t.Fatalf("day 201: the serving certificate was signed by the CA published at this very sync: %v", err)
	}

	now = day(211)
	syncAll("day 211")
	if err := served().CheckSignatureFrom(caBundle()[0]); err != nil {
		t.Fatalf("day 211: the serving certificate was not renewed by the new CA: %v", err)
	}

	now = day(301)
	syncAll("day 301")
	if cas := caBundle(); len(cas) != 1 || cas[0].Equal(firstCA) {
		t.Fatalf("day 301: the expired CA is still in the bundle (%d CAs)", len(cas))
	}
}

// checkServedAt is checkServed at a chosen time, for the controlled clock.
func checkServedAt(ctx context.Context, ns, webhookConfiguration string, dirs []string, now time.Time) error {
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: webhookConfiguration}, cfg); err != nil {
		return err
	}
	roots, err := cert.NewPoolFromBytes(cfg.Webhooks[0].ClientConfig.CABundle)
	if err != nil {
		return err
	}
	var first []byte
	for i, dir := range dirs {
		crt, err := os.ReadFile(filepath.Join(dir, "tls.crt"))
		if err != nil {
			return err
		}
		if i == 0 {
			first = crt
		} else if !bytes.Equal(crt, first) {
			return fmt.Errorf("replica %d serves another certificate than replica 0", i)
		}
		leaf, err := cert.ParseCertsPEM(crt)
		if err != nil {
			return err
		}
		if _, err := leaf[0].Verify(x509.VerifyOptions{Roots: roots, DNSName: testService + "." + ns + ".svc", CurrentTime: now}); err != nil {
			return fmt.Errorf("replica %d: %w", i, err)
		}
	}
	return nil
}

// startReplica runs a manager as cmd/webhook does: rrguard's real
// admission webhook (webhook.Setup) on port, its certificate from Setup in
// self-signed mode.
func startReplica(ctx context.Context, t *testing.T, opts Options, port int) {
	t.Helper()
	mgr, err := manager.New(env.Config, manager.Options{
		Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		WebhookServer: webhook.NewServer(webhook.Options{Host: "127.0.0.1", Port: port, CertDir: opts.CertDir}),
		Logger:        testr.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	check, err := Setup(ctx, mgr, opts)
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if err := check(nil); err != nil {
		t.Fatalf("not ready after Setup: %v", err)
	}
	if err := rrwebhook.Setup(mgr, rrwebhook.Options{Registerer: prometheus.NewRegistry(), Log: logr.Discard()}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	t.Cleanup(func() { <-done })
	started := mgr.GetWebhookServer().StartedChecker()
	for deadline := time.Now().Add(10 * time.Second); started(nil) != nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("webhook server on port %d did not start: %v", port, started(nil))
		}
	}
}

// registerReplicas registers rrguard's CREATE webhook (as
// webhook.Configuration builds it) once per replica port, for
// RemediationRequests in namespace ns only, without a CA bundle: every
// create then passes through every replica.
func registerReplicas(t *testing.T, ns string, ports []int) string {
	t.Helper()
	base := rrwebhook.Configuration(rrwebhook.ConfigurationOptions{}).Webhooks[0]
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{GenerateName: "certs-e2e-"}}
	for i, port := range ports {
		w := *base.DeepCopy()
		w.Name = fmt.Sprintf("replica%d.%s", i, base.Name)
		w.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: ptr.To(fmt.Sprintf("https://127.0.0.1:%d%s", port, rrwebhook.Path))}
		w.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}}
		cfg.Webhooks = append(cfg.Webhooks, w)
	}
	if err := env.Client.Create(context.Background(), cfg); err != nil {
		t.Fatalf("create webhook configuration: %v", err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), cfg) })
	return cfg.Name
}

// End to end: two replicas of rrguard's real webhook, registered so that
// every create needs both, the API server calling them over TLS with the
// generated CA, while serving certificates renew every few seconds and the
// CA once. Every first create of a fingerprint must be admitted and every
// second one denied as a duplicate, throughout.
func TestSelfSignedAPIServerTrustsEveryReplicaAcrossRotations(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about 20 seconds")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := env.Namespace(t)
	ports := []int{testenv.FreePort(t), testenv.FreePort(t)}
	vwc := registerReplicas(t, ns, ports)
	for _, port := range ports {
		opts := testOptions(t, ns, "webhook-cert", vwc)
		opts.ExtraIPs = []net.IP{net.ParseIP("127.0.0.1")}
		// Renew the serving certificate every 4 s and the CA once, at 10 s.
		opts.CertValidity, opts.CAValidity, opts.SyncInterval = 6*time.Second, 15*time.Second, 200*time.Millisecond
		startReplica(ctx, t, opts, port)
	}
	t.Cleanup(cancel)

	serials, cas := map[string]bool{}, map[string]bool{}
	served := []map[string]bool{{}, {}}
	var failures []string
	deadline := time.Now().Add(17 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		fp := fmt.Sprintf("%064x", i+1)
		if err := env.Client.Create(ctx, testenv.RemediationRequest(ns, fmt.Sprintf("first-%d", i), fp)); err != nil {
			failures = append(failures, fmt.Sprintf("first RR of fingerprint %d: %v", i, err))
		}
		err := env.Client.Create(ctx, testenv.RemediationRequest(ns, fmt.Sprintf("second-%d", i), fp))
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("first-%d", i)) {
			failures = append(failures, fmt.Sprintf("second RR of fingerprint %d: want a denial naming first-%d, got %v", i, i, err))
		}
		// The API server keeps its connections to a webhook open, and TLS
		// checks certificates only at the handshake: so also open a fresh
		// connection to each replica, trusting the CA bundle as registered
		// now, as the API server does on a new connection.
		for r, port := range ports {
			serial, err := handshake(ctx, vwc, port)
			if err != nil {
				failures = append(failures, fmt.Sprintf("new TLS connection to replica %d: %v", r, err))
				continue
			}
			served[r][serial] = true
		}
		secret := &corev1.Secret{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "webhook-cert"}, secret); err == nil {
			if b, err := parseBundle(secret.Data); err == nil {
				serials[b.cert.SerialNumber.String()] = true
				cas[b.cas[0].SerialNumber.String()] = true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(failures) > 0 {
		t.Errorf("%d admissions or new TLS connections failed across rotations, first: %s", len(failures), failures[0])
	}
	if len(serials) < 3 || len(cas) < 2 {
		t.Errorf("saw %d serving certificates and %d CAs; want at least 3 and 2 (the test did not rotate)", len(serials), len(cas))
	}
	for r := range served {
		if len(served[r]) < 3 {
			t.Errorf("replica %d served %d certificates; want at least 3 (it did not reload the renewed ones)", r, len(served[r]))
		}
	}
}

// handshake opens a new TLS connection to the replica on port, trusting the
// CA bundle the webhook configuration holds now, and returns the serial of
// the certificate served.
func handshake(ctx context.Context, webhookConfiguration string, port int) (string, error) {
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: webhookConfiguration}, cfg); err != nil {
		return "", err
	}
	roots, err := cert.NewPoolFromBytes(cfg.Webhooks[0].ClientConfig.CABundle)
	if err != nil {
		return "", err
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Second}, Config: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}}
	conn, err := d.DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber.String(), nil
}
