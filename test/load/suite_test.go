package load_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
)

// The suite runs on one control plane with rrguard's webhook registered and
// served. Namespaces labelled webhooktest.UnguardedLabel are out of the webhook's reach,
// as on a cluster without rrguard: the baseline runs there (under the
// webhook its duplicate creates would be denied), and the stored-RR
// benchmarks fill a namespace there before putting it under the webhook.
var (
	env  *testenv.Env
	hook *webhooktest.Server
)

func TestMain(m *testing.M) {
	webhooktest.Main(m, func(e *testenv.Env, h *webhooktest.Server) { env, hook = e, h })
}

// unguardedNamespace makes a namespace the webhook does not guard.
func unguardedNamespace(t testing.TB) string { return webhooktest.UnguardedNamespace(t, env) }

var httpClient = &http.Client{Timeout: 60 * time.Second}
