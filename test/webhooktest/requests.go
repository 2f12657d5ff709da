package webhooktest

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rrguard/rrguard/test/testenv"
)

// Requests records the requests a client made for namespaced resources,
// each as "verb resource" the way the API server's audit names them:
// "create leases", "get remediationrequests", "list remediationrequests",
// "update leases". Discovery is not recorded.
type Requests struct {
	mu  sync.Mutex
	log []string
}

// Take returns the requests recorded since the last Take, and forgets them.
func (r *Requests) Take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.log
	r.log = nil
	return out
}

func (r *Requests) add(req *http.Request) {
	what := verbAndResource(req)
	if what == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, what)
}

// verbAndResource names req from its method and path:
// /api[s]/<group>/<version>/namespaces/<ns>/<resource>[/<name>[/<sub>]];
// "" for any other path.
func verbAndResource(req *http.Request) string {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	var rest []string
	for i, p := range parts {
		if p == "namespaces" && i+2 < len(parts) {
			rest = parts[i+2:]
			break
		}
	}
	if len(rest) == 0 {
		return ""
	}
	named := len(rest) > 1
	verb := map[string]string{
		http.MethodPost: "create", http.MethodPut: "update", http.MethodPatch: "patch", http.MethodDelete: "delete",
	}[req.Method]
	if req.Method == http.MethodGet {
		verb = "list"
		if named {
			verb = "get"
		}
	}
	return verb + " " + strings.Join(append(rest[:1], rest[min(2, len(rest)):]...), "/")
}

// CountingClient returns a client of env's API server that records every
// request it makes: give it to a webhook replica (Options.Client) to count
// what each decision costs.
func CountingClient(t testing.TB, env *testenv.Env) (client.Client, *Requests) {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	reqs := &Requests{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			reqs.add(req)
			return rt.RoundTrip(req)
		})
	})
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatalf("counting client: %v", err)
	}
	return c, reqs
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
