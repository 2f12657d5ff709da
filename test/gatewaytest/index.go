package gatewaytest

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/rrguard/rrguard/gateway/pipeline"
)

// StartIndex starts the pipeline's fingerprint index of ns
// (pipeline.NewIndex) until t ends, and returns it once synced: for a
// pipeline built by hand with WebhookGuarded.
func StartIndex(t testing.TB, cfg *rest.Config, scheme *runtime.Scheme, ns string) cache.Cache {
	t.Helper()
	idx, err := pipeline.NewIndex(cfg, pipeline.IndexOptions{Namespace: ns, Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- idx.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("index: %v", err)
		}
	})
	syncCtx, cancelSync := context.WithTimeout(ctx, 30*time.Second)
	defer cancelSync()
	if !idx.WaitForCacheSync(syncCtx) {
		t.Fatal("the index did not sync")
	}
	return idx
}
