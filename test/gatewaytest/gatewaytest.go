package gatewaytest

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/rrguard/rrguard/certs"
	"github.com/rrguard/rrguard/gateway"
	"github.com/rrguard/rrguard/internal/auditlog"
	"github.com/rrguard/rrguard/test/testenv"
)

// Options say what to start. Config, Scheme and Namespace are required.
type Options struct {
	// Config reaches the API server; it is copied, so the instance has a
	// transport and connections of its own. Wrap its transport
	// (rest.Config.Wrap) to watch or break the instance's requests.
	Config *rest.Config
	// Scheme knows RemediationRequest.
	Scheme *runtime.Scheme
	// Namespace is where the gateway creates RemediationRequests.
	Namespace string
	// RequestTimeout is each signal's deadline, and CallTimeout each API
	// call's. Both default to the gateway's.
	RequestTimeout time.Duration
	CallTimeout    time.Duration
	// WebhookGuarded is gateway.Options.WebhookGuarded: set it only where
	// the test's webhook guards Namespace.
	WebhookGuarded bool
	// RequireManagedLabel is gateway.Options.RequireManagedLabel.
	RequireManagedLabel bool
	// Auth is gateway.Options.Auth. Defaults to gateway.AuthNone, so that
	// a test posts without a token.
	Auth string
	// Reader, when set, replaces the manager's APIReader for every read
	// (gateway.Options.Reader).
	Reader client.Reader
	// Certs, when set, serves the signal API over TLS as cmd/gateway does:
	// certs.Setup with these options on the instance's manager, its
	// readiness checked, the pair served from Certs.CertDir. URL is then
	// https.
	Certs *certs.Options
	// Audit receives the audit lines through the binaries' audit logger
	// (auditlog.New: JSON, never sampled). Nil discards them.
	Audit io.Writer
	// Log is the operational log. Defaults to discarding it.
	Log logr.Logger
}

// Instance is one running gateway.
type Instance struct {
	// URL is the signal API's base URL.
	URL string
	// ProbeURL is the base URL of the manager's /healthz and /readyz.
	ProbeURL string
	// Registry holds the gateway's metrics.
	Registry *prometheus.Registry

	requests atomic.Int64
	*runner
}

// APIRequests returns how many requests the instance has sent to the API
// server so far: every request through its rest.Config's transport (the
// apiReader's and the client's alike).
func (i *Instance) APIRequests() int64 { return i.requests.Load() }

// Stop stops the instance's manager and waits for it: the signal API stops
// accepting and drains the requests in flight. Stopping twice is a no-op.
func (i *Instance) Stop() error { return i.stop() }

// Start starts a gateway and returns once its signal API serves and its
// manager is ready.
func Start(o Options) (*Instance, error) {
	in := &Instance{Registry: prometheus.NewRegistry()}
	mgr, err := in.newManager(o)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if err := in.setup(mgr, ln, o); err != nil {
		_ = ln.Close()
		return nil, err
	}
	in.runner = run(mgr.Start)
	if err := in.waitServing(o.Certs != nil); err != nil {
		_ = in.stop()
		return nil, err
	}
	return in, nil
}

// newManager returns the instance's manager, its probes on a local port.
func (i *Instance) newManager(o Options) (ctrl.Manager, error) {
	probe, err := testenv.FreeAddr()
	if err != nil {
		return nil, err
	}
	i.ProbeURL = "http://" + probe
	log := o.Log
	if log.GetSink() == nil {
		log = logr.Discard()
	}
	mgr, err := ctrl.NewManager(CountRequests(o.Config, &i.requests), ctrl.Options{
		Scheme:                 o.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: probe,
		Logger:                 log,
	})
	if err != nil {
		return nil, fmt.Errorf("new manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	return mgr, nil
}

// setup adds the gateway to mgr, serving ln, as cmd/gateway does.
func (i *Instance) setup(mgr ctrl.Manager, ln net.Listener, o Options) error {
	scheme := "http://"
	opts := gateway.Options{
		Listener:            ln,
		Namespace:           o.Namespace,
		Auth:                o.Auth,
		RequestTimeout:      o.RequestTimeout,
		CallTimeout:         o.CallTimeout,
		WebhookGuarded:      o.WebhookGuarded,
		Reader:              o.Reader,
		RequireManagedLabel: o.RequireManagedLabel,
		Registerer:          i.Registry,
		// Encoded as the binary encodes them, then dropped: gateway.Options
		// takes a logger without a sink (logr.Discard()) for unset and
		// would write to stderr.
		Audit: auditlog.New(io.Discard),
	}
	if opts.Auth == "" {
		opts.Auth = gateway.AuthNone
	}
	if o.Audit != nil {
		opts.Audit = auditlog.New(o.Audit)
	}
	if o.Certs != nil {
		ready, err := certs.Setup(context.Background(), mgr, *o.Certs)
		if err != nil {
			return fmt.Errorf("serving certificate: %w", err)
		}
		if err := mgr.AddReadyzCheck("certificate", ready); err != nil {
			return err
		}
		opts.CertDir, scheme = o.Certs.CertDir, "https://"
	}
	if err := gateway.Setup(mgr, opts); err != nil {
		return fmt.Errorf("set up gateway: %w", err)
	}
	i.URL = scheme + ln.Addr().String()
	return nil
}

// StartForTest is Start for a test: it fails t if the gateway does not
// start, and stops it when t ends.
func StartForTest(t testing.TB, o Options) *Instance {
	t.Helper()
	in, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := in.Stop(); err != nil {
			t.Errorf("stop gateway: %v", err)
		}
	})
	return in
}

// Ready asks the instance's /readyz.
func (i *Instance) Ready() bool {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(i.ProbeURL + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// waitServing waits until the signal API answers and then, as a Service
// would before sending anything, until the instance is ready. Over TLS it
// does not check the certificate: whether one is served is the question.
func (i *Instance) waitServing(overTLS bool) error {
	c := &http.Client{Timeout: 5 * time.Second}
	if overTLS {
		c.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := c.Get(i.URL + "/")
		if err == nil {
			resp.Body.Close()
			if i.Ready() {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gateway at %s did not serve and turn ready (last error: %v)", i.URL, err)
		}
		select {
		case <-i.finished:
			return fmt.Errorf("gateway manager stopped before serving: %v", i.err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// CountRequests returns a copy of cfg, unthrottled, whose every request to
// the API server adds one to n: the client-side count of API requests.
func CountRequests(cfg *rest.Config, n *atomic.Int64) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = -1, 0
	c.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return testenv.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
			n.Add(1)
			return rt.RoundTrip(r)
		})
	})
	return c
}
