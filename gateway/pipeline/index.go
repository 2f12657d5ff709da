package pipeline

import (
	"context"
	"fmt"
	"net/http"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// IndexOptions configure NewIndex.
type IndexOptions struct {
	// Namespace is the only namespace indexed. Required.
	Namespace string
	// Scheme knows RemediationRequest. Required.
	Scheme *runtime.Scheme
	// HTTPClient and Mapper, when set, are shared with the caller's
	// clients (the manager's).
	HTTPClient *http.Client
	Mapper     meta.RESTMapper
}

// NewIndex returns an informer-backed cache of the RemediationRequests in
// one namespace, indexed by fingerprint (v1alpha1.FingerprintField), for
// Options.Index. It keeps of each request only what the gateway's lookup
// reads: identity, resourceVersion, creation and deletion, fingerprint and
// status; the spec's payload and labels, often most of a request's size, are
// dropped as they arrive. The caller starts it (it is a manager.Runnable).
func NewIndex(cfg *rest.Config, o IndexOptions) (cache.Cache, error) {
	c, err := cache.New(cfg, cache.Options{
		HTTPClient:        o.HTTPClient,
		Scheme:            o.Scheme,
		Mapper:            o.Mapper,
		DefaultNamespaces: map[string]cache.Config{o.Namespace: {}},
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

// stripForIndex keeps of a request what dedup.GatewayHolder and a count
// write read.
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
