package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/certs"
	"github.com/rrguard/rrguard/gateway/httpapi"
	"github.com/rrguard/rrguard/gateway/pipeline"
	"github.com/rrguard/rrguard/gateway/signal"
	"github.com/rrguard/rrguard/internal/auditlog"
)

// The values of Options.Auth.
const (
	AuthTokenReview = "tokenreview"
	AuthNone        = "none"
)

// Options configure the gateway. The zero value of every field but
// Namespace means its default.
type Options struct {
	// BindAddress is where the signal API listens. Defaults to ":8080".
	BindAddress string
	// Listener, when set, is served instead of BindAddress.
	Listener net.Listener
	// CertDir, when set, makes the signal API serve TLS with the tls.crt
	// and tls.key in it, reloaded when they change (certs.ServingConfig:
	// what cert-manager or certs' self-signed mode keep there). Without it
	// the API serves plain HTTP, which only in-process tests use: bearer
	// tokens must not cross a network in the clear. cmd/gateway always
	// sets it.
	CertDir string
	// EnableHTTP2 serves HTTP/2 as well as HTTP/1.1 over TLS
	// (certs.TLSOptions). Defaults to false.
	EnableHTTP2 bool
	// Namespace is where RemediationRequests are created. Required.
	Namespace string
	// Auth is AuthTokenReview or AuthNone. Defaults to AuthTokenReview.
	Auth string
	// Audiences are the audiences a caller's token must be bound to
	// (AuthTokenReview). Defaults to [httpapi.DefaultAudience].
	Audiences []string
	// MaxRequestsInFlight bounds the requests served at once; more wait a
	// while, then get 429. Defaults to httpapi.DefaultMaxRequestsInFlight.
	MaxRequestsInFlight int
	// MaxTokenReviewsInFlight bounds the TokenReviews in flight at once
	// (httpapi.TokenReviewOptions.MaxInFlightReviews). Defaults to 8.
	MaxTokenReviewsInFlight int
	// MaxBodyBytes caps a request body. Defaults to 1 MiB.
	MaxBodyBytes int64
	// RequestTimeout is each request's deadline for counting its signals.
	// Defaults to pipeline.DefaultTimeout.
	RequestTimeout time.Duration
	// CallTimeout bounds each API call of the pipeline. Defaults to
	// pipeline.DefaultCallTimeout.
	CallTimeout time.Duration
	// WebhookGuarded: rrguard's webhook decides every create in Namespace,
	// so a fingerprint this replica does not know is looked up in an
	// index of Namespace's requests, without an API request
	// (pipeline.Options).
	WebhookGuarded bool
	// ClusterID is the cluster a signal comes from when it does not say
	// (signal.Parser); empty, the default, means the local cluster.
	ClusterID string
	// RequireManagedLabel counts only signals whose resolved target is in
	// kubernaut's management scope, by the kubernaut.ai/managed label on it
	// or its namespace (scope.Checker); the others are answered 200
	// ignored with the reason. Defaults to false: every signal counts.
	RequireManagedLabel bool
	// Reader is what every read of the API server goes through. Defaults
	// to the manager's APIReader; anything else must read the API server
	// directly too.
	Reader client.Reader
	// Registerer receives the gateway's metrics. Defaults to
	// controller-runtime's metrics.Registry, served on the manager's
	// metrics endpoint.
	Registerer prometheus.Registerer
	// Log is the operational log. Defaults to the manager's logger named
	// "gateway". Audit receives one line per signal decision; defaults to
	// auditlog.New(os.Stderr): JSON, never sampled, named "audit". A
	// logger without a sink, logr.Discard() included, is unset: the audit
	// is never off by accident; auditlog.New(io.Discard) drops it.
	Log   logr.Logger
	Audit logr.Logger
}

func (o *Options) setDefaults(mgr manager.Manager) {
	if o.BindAddress == "" {
		o.BindAddress = ":8080"
	}
	if o.Auth == "" {
		o.Auth = AuthTokenReview
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = httpapi.DefaultMaxBodyBytes
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = pipeline.DefaultTimeout
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = pipeline.DefaultCallTimeout
	}
	if o.Reader == nil {
		o.Reader = mgr.GetAPIReader()
	}
	if o.Registerer == nil {
		o.Registerer = crmetrics.Registry
	}
	if o.Log.GetSink() == nil {
		o.Log = mgr.GetLogger().WithName("gateway")
	}
	if o.Audit.GetSink() == nil {
		o.Audit = auditlog.New(os.Stderr)
	}
}

// The names of the gateway's certificate objects in manifests/ (its
// variants add the "rrguard-" prefix to every name).
const (
	DefaultServiceName     = "rrguard-gateway"
	DefaultSecretName      = "rrguard-gateway-server-cert"
	DefaultCertificateName = "rrguard-gateway-serving-cert"
)

// CertOptions returns the certificate options of the gateway's signal API:
// certs.Options with the gateway's names, and no webhook configuration to
// inject a CA into (senders read the CA from the Secret's ca.crt).
func CertOptions() certs.Options {
	return certs.Options{
		Component:                "gateway",
		ServiceName:              DefaultServiceName,
		SecretName:               DefaultSecretName,
		CertificateName:          DefaultCertificateName,
		WebhookConfigurationName: "-",
	}
}

// Setup adds the gateway to mgr: the signal API (over TLS from o.CertDir)
// as a runnable that drains in-flight requests on shutdown, the watcher
// that reloads its certificate, and a readiness check named "apiserver".
// The certificate itself is certs.Setup's, with CertOptions.
func Setup(mgr manager.Manager, o Options) error {
	if o.Namespace == "" {
		return errors.New("gateway: a namespace is required")
	}
	o.setDefaults(mgr)

	reader := o.Reader
	p, err := newPipeline(mgr, o)
	if err != nil {
		return err
	}

	metrics := httpapi.NewMetrics(o.Registerer)
	auth, err := newAuthenticator(mgr, o, metrics)
	if err != nil {
		return err
	}
	h, err := httpapi.NewHandler(httpapi.Options{
		Counter:             p,
		Auth:                auth,
		Parser:              signal.Parser{ClusterID: o.ClusterID},
		MaxBodyBytes:        o.MaxBodyBytes,
		RequestTimeout:      o.RequestTimeout,
		MaxRequestsInFlight: o.MaxRequestsInFlight,
		Log:                 o.Log,
		Audit:               o.Audit,
		Metrics:             metrics,
	})
	if err != nil {
		return err
	}

	srv, writeTimeout := newServer(o, h)
	ln, err := listen(mgr, o, srv)
	if err != nil {
		return err
	}
	if err := mgr.Add(&manager.Server{
		Name:            "signal-api",
		Server:          srv,
		Listener:        ln,
		ShutdownTimeout: &writeTimeout,
	}); err != nil {
		return fmt.Errorf("add signal API server: %w", err)
	}
	if err := mgr.AddReadyzCheck("apiserver", APIServerCheck(reader, o.Namespace)); err != nil {
		return fmt.Errorf("add readiness check: %w", err)
	}
	return nil
}

// newServer returns the signal API's server and its write timeout, which
// is also how long shutdown waits for requests in flight.
func newServer(o Options, h http.Handler) (*http.Server, time.Duration) {
	// A counted signal whose answer is cut off would be sent again and
	// counted twice: the server waits for the latest answer there can be.
	writeTimeout := AnswerTimeout(o.RequestTimeout, o.CallTimeout)
	srv := &http.Server{
		Addr:              o.BindAddress,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// The body is read within the request's deadline.
		ReadTimeout:  o.RequestTimeout,
		WriteTimeout: writeTimeout,
		IdleTimeout:  120 * time.Second,
		// Connection-level errors go to the JSON log too.
		ErrorLog: log.New(logWriter{o.Log.WithName("http")}, "", 0),
	}
	return srv, writeTimeout
}

// newAuthenticator returns the Authenticator o.Auth names.
func newAuthenticator(mgr manager.Manager, o Options, metrics *httpapi.Metrics) (httpapi.Authenticator, error) {
	switch o.Auth {
	case AuthNone:
		o.Log.Info("WARNING: --auth=none: anyone who reaches the signal API can create RemediationRequests; use it for local development only")
		return httpapi.AllowAll, nil
	case AuthTokenReview:
		cs, err := kubernetes.NewForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
		if err != nil {
			return nil, fmt.Errorf("new clientset for tokenreview: %w", err)
		}
		return httpapi.NewTokenReviewAuthenticator(cs.AuthenticationV1(), cs.AuthorizationV1(), httpapi.TokenReviewOptions{
			Audiences:          o.Audiences,
			MaxInFlightReviews: o.MaxTokenReviewsInFlight,
			Metrics:            metrics,
		}), nil
	default:
		return nil, fmt.Errorf("gateway: auth %q is neither %q nor %q", o.Auth, AuthTokenReview, AuthNone)
	}
}

// listen returns the listener the signal API serves: o.Listener or one on
// o.BindAddress, behind TLS when o.CertDir is set (nil then means
// manager.Server listens on srv.Addr itself).
func listen(mgr manager.Manager, o Options, srv *http.Server) (net.Listener, error) {
	if o.CertDir == "" {
		return o.Listener, nil
	}
	cfg, watcher, err := certs.ServingConfig(o.CertDir, certs.TLSOptions(o.EnableHTTP2)...)
	if err != nil {
		return nil, fmt.Errorf("signal API: %w", err)
	}
	if err := mgr.Add(watcher); err != nil {
		return nil, fmt.Errorf("add certificate watcher: %w", err)
	}
	ln := o.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", o.BindAddress); err != nil {
			return nil, fmt.Errorf("signal API: %w", err)
		}
	}
	srv.TLSConfig = cfg
	return tls.NewListener(ln, cfg), nil
}

// APIServerCheck is a readiness check that passes when the API server
// answers a List of RemediationRequests in namespace through reader — the
// uncached reader every lookup uses, so it also proves the CRD is installed
// and RBAC lets the gateway read.
func APIServerCheck(reader client.Reader, namespace string) func(*http.Request) error {
	return func(r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		list := &v1alpha1.RemediationRequestList{}
		if err := reader.List(ctx, list, client.InNamespace(namespace), client.Limit(1)); err != nil {
			return fmt.Errorf("list remediationrequests in %s through the API reader: %w", namespace, err)
		}
		return nil
	}
}

// logWriter turns the lines net/http logs into logr entries.
type logWriter struct{ log logr.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Info(strings.TrimSpace(string(p)))
	return len(p), nil
}
