package gatewaytest

import (
	"net/http/httptest"
	"testing"

	"github.com/go-logr/logr"

	"github.com/rrguard/rrguard/gateway/httpapi"
)

// ServeCounter serves c through the gateway's real signal API (no
// authentication, logs discarded) until t ends, and returns the URL: for a
// pipeline built by hand, or for the per-signal baseline, beside gateways
// started with Start.
func ServeCounter(t testing.TB, c httpapi.Counter) string {
	t.Helper()
	h, err := httpapi.NewHandler(httpapi.Options{Counter: c, Auth: httpapi.AllowAll, Log: logr.Discard(), Audit: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
