package testenv

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Recorder collects what concurrent writers report, for a test to take.
type Recorder[T any] struct {
	mu    sync.Mutex
	items []T
}

// Add records v.
func (r *Recorder[T]) Add(v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = append(r.items, v)
}

// Take returns what was recorded since the last Take, and forgets it.
func (r *Recorder[T]) Take() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.items
	r.items = nil
	return out
}

// Requests records the API requests for namespaced resources sent through
// the transports it wraps, each as "verb resource[/subresource]" the way
// the API server's audit log names them: "create remediationrequests",
// "patch remediationrequests/status", "get leases", "list
// remediationrequests", "watch remediationrequests". Requests for any other
// path (discovery, cluster-scoped objects) are not recorded: the requests
// a decision costs are what tests count.
type Requests struct {
	Recorder[string]
}

// Wrap is for rest.Config.Wrap.
func (r *Requests) Wrap(rt http.RoundTripper) http.RoundTripper {
	return RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		if what := verbAndResource(req); what != "" {
			r.Add(what)
		}
		return rt.RoundTrip(req)
	})
}

// RecordingClient returns a client of e's API server, with a transport of
// its own, that records every request it sends: give it to a webhook
// replica or a gateway pipeline to see what each decision costs.
func (e *Env) RecordingClient(t testing.TB) (client.WithWatch, *Requests) {
	t.Helper()
	reqs := &Requests{}
	cfg := rest.CopyConfig(e.Config)
	cfg.Wrap(reqs.Wrap)
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: e.Scheme})
	if err != nil {
		t.Fatalf("recording client: %v", err)
	}
	return c, reqs
}

// verbAndResource names req from its method, its watch parameter and its
// path, /api[s]/<group>/<version>/namespaces/<ns>/<resource>[/<name>[/<sub>]];
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
	resource := rest[0]
	if len(rest) > 2 {
		resource += "/" + rest[2]
	}
	return verb(req, len(rest) > 1) + " " + resource
}

// verb is the audit verb of req, for a named object or a collection.
func verb(req *http.Request, named bool) string {
	switch req.Method {
	case http.MethodGet:
		switch {
		case req.URL.Query().Get("watch") == "true":
			return "watch"
		case named:
			return "get"
		}
		return "list"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		if !named {
			return "deletecollection"
		}
		return "delete"
	}
	return strings.ToLower(req.Method)
}
