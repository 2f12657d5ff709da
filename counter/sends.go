package counter

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// sendsKey is the context key of a status write's send counter.
type sendsKey struct{}

// countingSends returns ctx with a counter of the sends CountSends sees
// of the write made with it.
func countingSends(ctx context.Context) (context.Context, *atomic.Int32) {
	n := &atomic.Int32{}
	return context.WithValue(ctx, sendsKey{}, n), n
}

// CountSends is transport middleware (rest.Config.Wrap) for the transport of
// a Counter's Client. It counts each time a count write goes on the
// wire: client-go sends a write again on its own after a 5xx or a 429 that
// carries Retry-After, and the Conflict that answers such a resend may
// follow a first send that landed. Knowing the write went once, the
// counter takes a Conflict for what it is, a refusal, and reads the
// request again; without CountSends it cannot know, and settles every
// Conflict as a write that may have landed (G8), which needs the version
// the write was conditioned on to be still in the watch cache or etcd.
func CountSends(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		if n, ok := r.Context().Value(sendsKey{}).(*atomic.Int32); ok {
			n.Add(1)
		}
		return rt.RoundTrip(r)
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// NewClient returns a Client through cfg whose sends are counted
// (CountSends): opts.HTTPClient's connections (copied, its transport
// wrapped), or new ones made from cfg.
func NewClient(cfg *rest.Config, opts client.Options) (client.WithWatch, error) {
	hc := opts.HTTPClient
	if hc == nil {
		var err error
		if hc, err = rest.HTTPClientFor(cfg); err != nil {
			return nil, fmt.Errorf("http client for counting: %w", err)
		}
	}
	counted := *hc
	counted.Transport = CountSends(counted.Transport)
	opts.HTTPClient = &counted
	c, err := client.NewWithWatch(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("new client for counting: %w", err)
	}
	return c, nil
}
