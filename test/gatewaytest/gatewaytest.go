package gatewaytest

import (
	"context"
	"fmt"
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
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/rrguard/rrguard/gateway"
	"github.com/rrguard/rrguard/test/testenv"
)

// Options say what to start. Config, Scheme and Namespace are required.
type Options struct {
	// Config reaches the API server; it is copied, so the instance has a
	// transport and connections of its own.
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
}

// Instance is one running gateway.
type Instance struct {
	// URL is the signal API's base URL.
	URL string
	// ProbeURL is the base URL of the manager's /healthz and /readyz.
	ProbeURL string

	requests atomic.Int64
	cancel   context.CancelFunc
	done     chan error
	stopped  atomic.Bool
}

// APIRequests returns how many requests the instance has sent to the API
// server so far: every request through its rest.Config's transport (the
// apiReader's and the client's alike).
func (i *Instance) APIRequests() int64 { return i.requests.Load() }

// Stop stops the instance's manager and waits for it: the signal API stops
// accepting and drains the requests in flight. Stopping twice is a no-op.
func (i *Instance) Stop() error {
	if i.stopped.Swap(true) {
		return nil
	}
	i.cancel()
	return <-i.done
}

// Start starts a gateway and returns once its signal API serves.
func Start(o Options) (*Instance, error) {
	in := &Instance{done: make(chan error, 1)}
	cfg := CountRequests(o.Config, &in.requests)
	probe, err := testenv.FreeAddr()
	if err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 o.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: probe,
		Logger:                 logr.Discard(),
	})
	if err != nil {
		return nil, fmt.Errorf("new manager: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	err = gateway.Setup(mgr, gateway.Options{
		Listener:       ln,
		Namespace:      o.Namespace,
		Auth:           gateway.AuthNone,
		RequestTimeout: o.RequestTimeout,
		CallTimeout:    o.CallTimeout,
		WebhookGuarded: o.WebhookGuarded,
		Registerer:     prometheus.NewRegistry(),
		Log:            logr.Discard(),
		Audit:          logr.Discard(),
	})
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("set up gateway: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		_ = ln.Close()
		return nil, err
	}
	in.URL = "http://" + ln.Addr().String()
	in.ProbeURL = "http://" + probe
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	go func() { in.done <- mgr.Start(ctx) }()
	if err := waitServing(in.URL, in.done); err != nil {
		cancel()
		return nil, err
	}
	// As a Service would, send nothing before the instance is ready.
	for deadline := time.Now().Add(20 * time.Second); !in.Ready(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			cancel()
			return nil, fmt.Errorf("gateway at %s did not turn ready", in.URL)
		}
	}
	return in, nil
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

func waitServing(url string, done <-chan error) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gateway at %s did not serve: %w", url, err)
		}
		select {
		case err := <-done:
			return fmt.Errorf("gateway manager stopped before serving: %v", err)
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
		return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			n.Add(1)
			return rt.RoundTrip(r)
		})
	})
	return c
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
