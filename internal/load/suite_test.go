package load_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rrguard/rrguard/internal/testenv"
	"github.com/rrguard/rrguard/internal/webhooktest"
)

// The suite runs on one control plane with rrguard's webhook registered and
// served. Namespaces labelled unguardedLabel are out of the webhook's reach,
// as on a cluster without rrguard: the baseline runs there (under the
// webhook its duplicate creates would be denied), and the stored-RR
// benchmarks fill a namespace there before putting it under the webhook.
var (
	env  *testenv.Env
	hook *webhooktest.Server
)

const unguardedLabel = "rrguard.test/unguarded"

func TestMain(m *testing.M) {
	cfgs := webhooktest.Configurations()
	for _, c := range cfgs {
		for i := range c.Webhooks {
			c.Webhooks[i].NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: unguardedLabel, Operator: metav1.LabelSelectorOpDoesNotExist},
			}}
		}
	}
	e, err := testenv.Start(testenv.Options{ValidatingWebhooks: cfgs})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	env = e
	code := func() int {
		hook, err = webhooktest.Serve(env)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer hook.Stop()
		return m.Run()
	}()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop control plane:", err)
	}
	os.Exit(code)
}

// unguardedNamespace makes a namespace the webhook does not guard.
func unguardedNamespace(t testing.TB) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "rrguard-unguarded-", Labels: map[string]string{unguardedLabel: "true"}}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	return ns.Name
}

var httpClient = &http.Client{Timeout: 60 * time.Second}
