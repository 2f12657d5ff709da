package gatewaytest

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/rrguard/rrguard/internal/rrindex"
)

// StartIndex starts the pipeline's fingerprint index of ns
// (rrindex.New) until t ends, and returns it once synced: for a
// pipeline built by hand with WebhookGuarded.
func StartIndex(t testing.TB, cfg *rest.Config, scheme *runtime.Scheme, ns string) cache.Cache {
	t.Helper()
	idx, err := rrindex.New(cfg, rrindex.Options{Namespace: ns, Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	r := run(idx.Start)
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("index: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !idx.WaitForCacheSync(ctx) {
		t.Fatal("the index did not sync")
	}
	return idx
}
