package webhooktest

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rrguard/rrguard/test/testenv"
)

// UnguardedLabel marks namespaces the registered webhook leaves alone, as
// on a cluster without rrguard: naive variants and baselines run there.
const UnguardedLabel = "rrguard.test/unguarded"

// Suite is a test package's control plane with rrguard's webhook
// registered (every namespace but the unguarded ones) and its real handler
// serving. A test that serves something else in its place, or stops it,
// gets a fresh server of the suite's own back when it ends.
type Suite struct {
	// Proxied puts a Proxy where the API server calls the webhook, and each
	// server on a port of its own behind it, so that a test can serve
	// several replicas at once. Set it before Main.
	Proxied bool
	// ControlPlane starts the control plane; Main registers the webhook on
	// top of it. Set it before Main.
	ControlPlane testenv.Options

	// Env is the control plane.
	*testenv.Env
	// Server is the webhook server serving now: the suite's own, or what
	// a test put in its place.
	Server *Server
	// Proxy is where the API server calls the webhook, when Proxied.
	Proxy *Proxy
}

// Main runs a package's tests on one control plane with the real webhook
// registered and served; set receives both before the tests run. It exits
// with the tests' code. The control plane is started with opts, if given,
// and the webhook registered on top of them.
func Main(m *testing.M, set func(*testenv.Env, *Server), opts ...testenv.Options) {
	s := &Suite{}
	if len(opts) > 0 {
		s.ControlPlane = opts[0]
	}
	s.Main(m, func(s *Suite) error {
		set(s.Env, s.Server)
		return nil
	})
}

// Main starts s's control plane and webhook, calls ready (when given: to
// set the package's variables from s), runs the tests, stops everything and
// exits with the tests' code.
func (s *Suite) Main(m *testing.M, ready func(*Suite) error) {
	o := s.ControlPlane
	o.ValidatingWebhooks = Configurations()
	testenv.Run(o, func(env *testenv.Env) int {
		s.Env = env
		if s.Proxied {
			wio := env.WebhookInstallOptions()
			p, err := NewProxy(net.JoinHostPort(wio.LocalServingHost, strconv.Itoa(wio.LocalServingPort)))
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer p.Close()
			s.Proxy = p
		}
		if err := s.restore(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer func() { s.Server.Stop() }() // whichever serves then
		if ready != nil {
			if err := ready(s); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		return m.Run()
	})
}

// Serve starts a server made with o for s's control plane: on the
// registered port, or on a port of its own when s is Proxied (Use puts it
// behind the proxy).
func (s *Suite) Serve(o Options) (*Server, error) {
	if s.Proxied {
		var err error
		if o.Port, err = testenv.FreeTCPPort(); err != nil {
			return nil, err
		}
	}
	return Serve(s.Env, o)
}

// Use has the proxy of a Proxied suite spread the API server's connections
// over servers.
func (s *Suite) Use(servers ...*Server) {
	addrs := make([]string, len(servers))
	for i, r := range servers {
		addrs[i] = r.Addr
	}
	s.Proxy.SetBackends(addrs...)
}

// Replace stops s.Server and serves one made with o in its place until the
// test ends. Stopping a server closes the API server's connections to it,
// so every admission from now on reaches the new one.
func (s *Suite) Replace(t testing.TB, o Options) *Server {
	t.Helper()
	return s.Replicas(t, 1, o)[0]
}

// Replicas stops s.Server and serves n replicas made with o in its place
// until the test ends, behind the proxy (n > 1 needs a Proxied suite).
// s.Server is the first.
func (s *Suite) Replicas(t testing.TB, n int, o Options) []*Server {
	t.Helper()
	if n > 1 && !s.Proxied {
		t.Fatalf("%d replicas need a Proxied suite", n)
	}
	s.Server.Stop()
	rs := make([]*Server, 0, n)
	t.Cleanup(func() {
		for _, r := range rs {
			r.Stop()
		}
		if err := s.restore(); err != nil {
			t.Errorf("restore the webhook server: %v", err)
		}
	})
	for range n {
		r, err := s.Serve(o)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	s.Server = rs[0]
	if s.Proxied {
		s.Use(rs...)
	}
	return rs
}

// Down stops s.Server, as in an outage, until up (or the end of the test)
// serves a fresh server of the suite's own.
func (s *Suite) Down(t testing.TB) (up func()) {
	t.Helper()
	s.Server.Stop()
	var once sync.Once
	up = func() {
		once.Do(func() {
			if err := s.restore(); err != nil {
				t.Errorf("restore the webhook server: %v", err)
			}
		})
	}
	t.Cleanup(up)
	return up
}

// restore serves a server of the suite's own (the zero Options) as
// s.Server.
func (s *Suite) restore() error {
	r, err := s.Serve(Options{})
	if err != nil {
		return err
	}
	s.Server = r
	if s.Proxied {
		s.Use(r)
	}
	return nil
}

// UnguardedNamespace makes a namespace the webhook does not guard.
func UnguardedNamespace(t testing.TB, env *testenv.Env) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "rrguard-unguarded-", Labels: map[string]string{UnguardedLabel: "true"}}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	return ns.Name
}
