package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/rrguard/rrguard/gateway/pipeline"
	"github.com/rrguard/rrguard/gateway/scope"
	"github.com/rrguard/rrguard/gateway/target"
)

// newPipeline builds the pipeline that counts the signals. Where the
// webhook guards, it reads fingerprints it does not know from an index
// added to mgr, and the gateway is ready once the index is synced.
func newPipeline(mgr manager.Manager, o Options) (*pipeline.Pipeline, error) {
	// The manager's connections, the pipeline's sends counted on them.
	c, err := pipeline.NewClient(mgr.GetConfig(), client.Options{
		HTTPClient: mgr.GetHTTPClient(),
		Scheme:     mgr.GetScheme(),
		Mapper:     mgr.GetRESTMapper(),
	})
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return nil, fmt.Errorf("new discovery client for target resolution: %w", err)
	}
	po := pipeline.Options{
		Namespace:      o.Namespace,
		DefaultTimeout: o.RequestTimeout,
		CallTimeout:    o.CallTimeout,
		Metrics:        pipeline.NewMetrics(o.Registerer),
		Targets:        target.NewResolver(o.Reader, target.NewKinds(dc)),
		WebhookGuarded: o.WebhookGuarded,
	}
	if o.RequireManagedLabel {
		po.Scope = scope.Checker{Reader: o.Reader, ClusterID: o.ClusterID}
	}
	if o.WebhookGuarded {
		idx, err := pipeline.NewIndex(mgr.GetConfig(), pipeline.IndexOptions{
			Namespace:  o.Namespace,
			Scheme:     mgr.GetScheme(),
			HTTPClient: mgr.GetHTTPClient(),
			Mapper:     mgr.GetRESTMapper(),
		})
		if err != nil {
			return nil, err
		}
		if err := mgr.Add(indexRunnable{idx}); err != nil {
			return nil, fmt.Errorf("add the remediationrequest index: %w", err)
		}
		if err := mgr.AddReadyzCheck("index", indexSynced(idx)); err != nil {
			return nil, fmt.Errorf("add readiness check: %w", err)
		}
		po.Index = idx
	}
	return pipeline.New(o.Reader, c, po)
}

// indexRunnable puts the index among the manager's caches, which it starts
// before its other runnables and waits for.
type indexRunnable struct{ cache.Cache }

func (r indexRunnable) GetCache() cache.Cache { return r.Cache }

// indexSynced is a readiness check that passes once idx has synced.
func indexSynced(idx cache.Cache) func(*http.Request) error {
	return func(r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), 100*time.Millisecond)
		defer cancel()
		if !idx.WaitForCacheSync(ctx) {
			return errors.New("the remediationrequest index has not synced")
		}
		return nil
	}
}
