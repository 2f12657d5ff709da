package webhooktest

import (
	"context"
	"fmt"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rrguard/rrguard/test/testenv"
)

// UnguardedLabel marks namespaces the registered webhook leaves alone, as
// on a cluster without rrguard: naive variants and baselines run there.
const UnguardedLabel = "rrguard.test/unguarded"

// Main runs a package's tests on one control plane with the real webhook
// registered (every namespace but the unguarded ones) and served; set
// receives both before the tests run. It exits with the tests' code. The
// control plane is started with opts, if given, and the webhook
// registered on top of them.
func Main(m *testing.M, set func(*testenv.Env, *Server), opts ...testenv.Options) {
	var o testenv.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	o.ValidatingWebhooks = Configurations()
	env, err := testenv.Start(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		hook, err := Serve(env)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer func() { hook.Stop() }()
		set(env, hook)
		return m.Run()
	}()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop control plane:", err)
	}
	os.Exit(code)
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
