package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/rrguard/rrguard/gateway/pipeline"
	"github.com/rrguard/rrguard/gateway/scope"
	"github.com/rrguard/rrguard/gateway/signal"
)

// answerMargin is what an answer may take after the pipeline's last API
// call: encoding and writing it.
const answerMargin = 2 * time.Second

// AnswerTimeout is the latest a request is answered, from when its headers
// were read, with the given timeouts (0 for the defaults): its deadline
// (authentication, the body and counting all run within it), then
// pipeline.Overrun — the API call in flight at the deadline and the calls
// that settle a status write whose answer was lost — then writing the
// answer. With the defaults, 15s + 4×5s + 2s = 37s. The signal API's write
// timeout and its drain on shutdown are this long: an answer cut off after
// its signal was counted would make the sender count it twice.
func AnswerTimeout(requestTimeout, callTimeout time.Duration) time.Duration {
	if requestTimeout <= 0 {
		requestTimeout = pipeline.DefaultTimeout
	}
	return requestTimeout + pipeline.Overrun(callTimeout) + answerMargin
}

// ShutdownTimeout is the manager's graceful shutdown timeout for a gateway
// whose requests have requestTimeout: the signal API's drain
// (AnswerTimeout) and 5s for the rest to stop. A pod's
// terminationGracePeriodSeconds must be at least this (45s in manifests/
// for the default 42s).
func ShutdownTimeout(requestTimeout time.Duration) time.Duration {
	return AnswerTimeout(requestTimeout, 0) + 5*time.Second
}

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
	po := pipeline.Options{
		Namespace:      o.Namespace,
		DefaultTimeout: o.RequestTimeout,
		CallTimeout:    o.CallTimeout,
		Metrics:        pipeline.NewMetrics(o.Registerer),
		Targets:        signal.NewOwnerResolver(o.Reader),
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
