package webhooktest

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	ctrlzap "sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/rrguard/rrguard/certs"
	"github.com/rrguard/rrguard/counter"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/internal/auditlog"
	"github.com/rrguard/rrguard/internal/rrindex"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/webhook"
)

// Configurations returns the webhook configuration to register with
// testenv.Options.ValidatingWebhooks; envtest points it at localhost. It
// guards every namespace but those labelled UnguardedLabel.
func Configurations() []*admissionregistrationv1.ValidatingWebhookConfiguration {
	c := webhook.Configuration(webhook.ConfigurationOptions{Name: "rrguard-test"})
	for i := range c.Webhooks {
		c.Webhooks[i].NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: UnguardedLabel, Operator: metav1.LabelSelectorOpDoesNotExist},
		}}
	}
	return []*admissionregistrationv1.ValidatingWebhookConfiguration{c}
}

// Options adjust a test server. The zero value serves the real handler on
// envtest's registered port.
type Options struct {
	// Port to listen on; defaults to the port envtest registered.
	Port int
	// Webhook options (claim grace and so on). Registerer defaults to a
	// fresh registry.
	Webhook webhook.Options
	// Handler replaces the real handler: a naive variant to compare, or
	// real handlers (NewHandler) routed or wrapped by a test.
	Handler admission.Handler
	// Client is what the real handler reads and writes the API server
	// with; defaults to the Env's client.
	Client client.Client
	// Reader replaces Client for the real handler's reads only.
	Reader client.Reader
	// Clock is the replica's clock (dedup.Guard.Clock); defaults to the
	// real one.
	Clock clock.PassiveClock
	// Age replaces the replica's judge of a claim's age (dedup.Guard.Age).
	Age dedup.AgeJudge
	// NoIndex has the replica look for requests stored out of its reach
	// (steps C2 and C4) in kube-apiserver's watch cache instead of the
	// fingerprint index the binary keeps (Index).
	NoIndex bool
	// GuardOnly has the replica decide with the bare Guard, without the
	// dedup.Coalescer the binary puts in front of it: the benchmark that
	// measures what coalescing buys.
	GuardOnly bool
	// Namespaces is what the Enforcer reads namespace labels through;
	// defaults to the Env's client, one API request per denial, where the
	// binary reads its informer (webhook.NamespaceReader). Benchmarks pass
	// NamespaceCache's, so that they measure what the binary costs.
	Namespaces client.Reader
}

// Server is a running webhook server.
type Server struct {
	// Port it listens on, and Addr, its host:port.
	Port int
	Addr string
	// Registry holds the real handler's metrics.
	Registry *prometheus.Registry

	audit   *testenv.Buffer
	cancel  context.CancelFunc
	done    chan error
	stopped sync.Once
}

// AuditLog returns everything the audit logger wrote, JSON lines as zap
// writes them in production.
func (s *Server) AuditLog() []byte { return s.audit.Bytes() }

// Stop stops the server and waits for it; stopping it again does nothing.
func (s *Server) Stop() {
	s.stopped.Do(func() {
		s.cancel()
		<-s.done
	})
}

// Serve starts a webhook server for env and waits until it serves TLS.
func Serve(env *testenv.Env, opts ...Options) (*Server, error) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	wio := env.WebhookInstallOptions()
	port := o.Port
	if port == 0 {
		port = wio.LocalServingPort
	}
	reg := prometheus.NewRegistry()
	if o.Webhook.Registerer == nil {
		o.Webhook.Registerer = reg
	}
	audit := &testenv.Buffer{}
	o.Webhook.Log = ctrlzap.New(ctrlzap.WriteTo(audit), ctrlzap.JSONEncoder())
	o.Webhook.Audit = auditlog.New(audit)

	s := &Server{Port: port, Addr: net.JoinHostPort(wio.LocalServingHost, strconv.Itoa(port)), Registry: reg, audit: audit, done: make(chan error, 1)}
	h := o.Handler
	if h == nil {
		real, _, err := NewHandler(env, o)
		if err != nil {
			return nil, err
		}
		h = real
	}
	srv := ctrlwebhook.NewServer(ctrlwebhook.Options{
		Host: wio.LocalServingHost, Port: port, CertDir: wio.LocalServingCertDir,
		TLSOpts: certs.TLSOptions(false),
	})
	srv.Register(webhook.Path, &admission.Webhook{Handler: h, LogConstructor: quietLog})
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.done <- srv.Start(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := srv.StartedChecker()(nil); err == nil {
			return s, nil
		} else if time.Now().After(deadline) {
			cancel()
			return nil, fmt.Errorf("webhook server on port %d did not start: %w", port, err)
		}
		select {
		case err := <-s.done:
			cancel()
			return nil, fmt.Errorf("webhook server on port %d: %w", port, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// NewHandler returns the real handler of a replica made with o on env, as
// webhook.Setup wires it (webhook.NewHandler): its Guard (webhook.NewGuard)
// reads through o.Reader or o.Client and writes through o.Client
// (env.Client by default), with o.Clock and o.Age, and looks for requests
// out of its reach in env's fingerprint index (Index) unless o.NoIndex; its Enforcer reads
// namespace labels through env.Client, where the binary reads its cache (no
// request per decision, so none to count). Unless o.Webhook sets them, its
// metrics go to a fresh registry and its audit lines (through
// auditlog.New, as in the binary) nowhere.
func NewHandler(env *testenv.Env, o Options) (*webhook.Handler, *webhook.Metrics, error) {
	c := o.Client
	if c == nil {
		c = env.Client
	}
	var reader client.Reader = c
	if o.Reader != nil {
		reader = o.Reader
	}
	if o.Webhook.Index == nil && !o.NoIndex {
		idx, err := Index(env)
		if err != nil {
			return nil, nil, err
		}
		o.Webhook.Index = idx
	}
	g := webhook.NewGuard(reader, c, o.Webhook)
	g.Clock, g.Age = o.Clock, o.Age
	if o.Webhook.Registerer == nil {
		o.Webhook.Registerer = prometheus.NewRegistry()
	}
	if o.Webhook.Audit.GetSink() == nil {
		o.Webhook.Audit = auditlog.New(io.Discard)
	}
	if !o.Webhook.CountedCreators.Empty() && o.Webhook.Counter == nil {
		w, err := counter.NewClient(env.Config, client.Options{Scheme: env.Scheme})
		if err != nil {
			return nil, nil, err
		}
		o.Webhook.Counter = webhook.NewCounter(reader, w)
	}
	var namespaces client.Reader = env.Client
	if o.Namespaces != nil {
		namespaces = o.Namespaces
	}
	var admitter dedup.Admitter = dedup.NewCoalescer(g)
	if o.GuardOnly {
		admitter = g
	}
	return webhook.NewHandler(admitter, namespaces, env.Scheme, o.Webhook)
}

// NamespaceCache returns namespace labels read as the binary reads them
// (webhook.NamespaceReader: an informer, the API server where it misses),
// until t ends. It is not the default because the suites that restart the
// API server would find the informer's watch holding it up.
func NamespaceCache(t testing.TB, env *testenv.Env) client.Reader {
	t.Helper()
	c, err := cache.New(env.Config, cache.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := webhook.NamespaceReader(c, env.Client)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("namespace cache: %v", err)
		}
	})
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("the namespace informer did not sync")
	}
	return r
}

// quietLog drops controller-runtime's per-request debug logging; the audit
// log is what the tests read.
func quietLog(logr.Logger, *admission.Request) logr.Logger { return logr.Discard() }

// indexes holds each Env's fingerprint index.
var indexes struct {
	sync.Mutex
	m map[*testenv.Env]cache.Cache
}

// Index returns env's fingerprint index of every namespace's requests
// (rrindex.New), as each replica of the binary keeps one (webhook.Setup):
// started on first use, synced, and shared by env's replicas until the
// test binary exits.
func Index(env *testenv.Env) (cache.Cache, error) {
	indexes.Lock()
	defer indexes.Unlock()
	if idx, ok := indexes.m[env]; ok {
		return idx, nil
	}
	idx, err := rrindex.New(env.Config, rrindex.Options{Scheme: env.Scheme})
	if err != nil {
		return nil, err
	}
	go func() {
		if err := idx.Start(context.Background()); err != nil {
			panic(fmt.Sprintf("fingerprint index: %v", err))
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !idx.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("the fingerprint index did not sync within 30s")
	}
	if indexes.m == nil {
		indexes.m = map[*testenv.Env]cache.Cache{}
	}
	indexes.m[env] = idx
	return idx, nil
}
