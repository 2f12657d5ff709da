package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// namespaceReader returns what the Enforcer reads namespace labels with,
// NamespaceReader on mgr's cache and API reader, and adds a readiness check
// that waits for the informer.
func namespaceReader(mgr manager.Manager) (client.Reader, error) {
	r, inf, err := NamespaceReader(mgr.GetCache(), mgr.GetAPIReader())
	if err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("namespaces", func(*http.Request) error {
		if !inf.HasSynced() {
			return errors.New("namespace labels not read yet")
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("add namespace readiness check: %w", err)
	}
	return r, nil
}

// NamespaceReader is how the webhook reads namespace labels: it adds a
// metadata-only namespace informer to c and reads from c (no request per
// decision), and from api where c misses (a namespace created a moment
// ago) or is not started yet. The informer is returned for readiness.
func NamespaceReader(c cache.Cache, api client.Reader) (client.Reader, cache.Informer, error) {
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(namespaceGVK)
	inf, err := c.GetInformer(context.Background(), ns)
	if err != nil {
		return nil, nil, fmt.Errorf("namespace informer for %s: %w", EnforcementLabel, err)
	}
	return cacheThenAPI{cache: c, api: api}, inf, nil
}

// cacheThenAPI is NamespaceReader's reader.
type cacheThenAPI struct{ cache, api client.Reader }

func (r cacheThenAPI) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if err := r.cache.Get(ctx, key, obj, opts...); err == nil {
		return nil
	}
	return r.api.Get(ctx, key, obj, opts...)
}

func (r cacheThenAPI) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return r.api.List(ctx, list, opts...)
}
