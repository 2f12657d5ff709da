package rrindex

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// Options configure New.
type Options struct {
	// Namespace is the only namespace indexed; empty, every namespace.
	Namespace string
	// Scheme knows RemediationRequest. Required.
	Scheme *runtime.Scheme
	// HTTPClient and Mapper, when set, are shared with the caller's
	// clients (the manager's).
	HTTPClient *http.Client
	Mapper     meta.RESTMapper
}

// New returns an informer-backed cache of the RemediationRequests in one
// namespace, or in all, indexed by fingerprint (v1alpha1.FingerprintField):
// List it with client.MatchingFields{v1alpha1.FingerprintField: fp} and,
// optionally, client.InNamespace. It keeps of each request only what the
// decisions read: identity, resourceVersion, creation and deletion,
// fingerprint and status; the spec's payload and labels, often most of a
// request's size, are dropped as they arrive. The caller starts it (it is a
// manager.Runnable) and waits for its sync (WaitForCacheSync) before it
// counts on what it shows.
func New(cfg *rest.Config, o Options) (cache.Cache, error) {
	var namespaces map[string]cache.Config
	if o.Namespace != "" {
		namespaces = map[string]cache.Config{o.Namespace: {}}
	}
	c, err := cache.New(cfg, cache.Options{
		HTTPClient:        o.HTTPClient,
		Scheme:            o.Scheme,
		Mapper:            o.Mapper,
		DefaultNamespaces: namespaces,
		ByObject: map[client.Object]cache.ByObject{
			&v1alpha1.RemediationRequest{}: {Transform: stripForIndex},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("new remediationrequest index: %w", err)
	}
	err = c.IndexField(context.Background(), &v1alpha1.RemediationRequest{}, v1alpha1.FingerprintField, func(obj client.Object) []string {
		return []string{obj.(*v1alpha1.RemediationRequest).Spec.SignalFingerprint}
	})
	if err != nil {
		return nil, fmt.Errorf("index remediationrequests by fingerprint: %w", err)
	}
	return c, nil
}

// stripForIndex keeps of a request what dedup.GatewayHolder, dedup.IsActive
// and a count write read.
func stripForIndex(obj any) (any, error) {
	rr, ok := obj.(*v1alpha1.RemediationRequest)
	if !ok {
		return obj, nil // a tombstone: the informer handles it
	}
	return &v1alpha1.RemediationRequest{
		TypeMeta: rr.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Namespace:         rr.Namespace,
			Name:              rr.Name,
			UID:               rr.UID,
			ResourceVersion:   rr.ResourceVersion,
			CreationTimestamp: rr.CreationTimestamp,
			DeletionTimestamp: rr.DeletionTimestamp,
		},
		Spec:   v1alpha1.RemediationRequestSpec{SignalFingerprint: rr.Spec.SignalFingerprint},
		Status: rr.Status,
	}, nil
}

// AddTo builds the index of namespace ("" for all) on mgr's connections,
// among mgr's caches — started before its other runnables — and adds a
// readiness check, "index", that passes once it has synced: a replica
// whose index has not synced would miss what the index is asked for.
func AddTo(mgr manager.Manager, namespace string) (cache.Cache, error) {
	idx, err := New(mgr.GetConfig(), Options{
		Namespace:  namespace,
		Scheme:     mgr.GetScheme(),
		HTTPClient: mgr.GetHTTPClient(),
		Mapper:     mgr.GetRESTMapper(),
	})
	if err != nil {
		return nil, err
	}
	if err := mgr.Add(runnable{idx}); err != nil {
		return nil, fmt.Errorf("add the remediationrequest index: %w", err)
	}
	if err := mgr.AddReadyzCheck("index", synced(idx)); err != nil {
		return nil, fmt.Errorf("add readiness check: %w", err)
	}
	return idx, nil
}

// runnable puts the index among the manager's caches, which it starts
// before its other runnables and waits for.
type runnable struct{ cache.Cache }

func (r runnable) GetCache() cache.Cache { return r.Cache }

// synced is a readiness check that passes once idx has synced.
func synced(idx cache.Cache) func(*http.Request) error {
	return func(r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), 100*time.Millisecond)
		defer cancel()
		if !idx.WaitForCacheSync(ctx) {
			return errors.New("the remediationrequest index has not synced")
		}
		return nil
	}
}
