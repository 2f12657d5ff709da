package gateway

import (
	"fmt"

	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/rrguard/rrguard/counter"
	"github.com/rrguard/rrguard/gateway/pipeline"
	"github.com/rrguard/rrguard/gateway/scope"
	"github.com/rrguard/rrguard/gateway/target"
	"github.com/rrguard/rrguard/internal/rrindex"
)

// newPipeline builds the pipeline that counts the signals. Where the
// webhook guards, it reads fingerprints it does not know from an index
// added to mgr, and the gateway is ready once the index is synced.
func newPipeline(mgr manager.Manager, o Options) (*pipeline.Pipeline, error) {
	// The manager's connections, the pipeline's sends counted on them.
	c, err := counter.NewClient(mgr.GetConfig(), client.Options{
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
		idx, err := rrindex.AddTo(mgr, o.Namespace)
		if err != nil {
			return nil, err
		}
		po.Index = idx
	}
	return pipeline.New(o.Reader, c, po)
}
