package signal

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// climbable are the kinds that stand for their controller: a Pod for its
// ReplicaSet, StatefulSet, DaemonSet or Job, a ReplicaSet for its
// Deployment, a Job for its CronJob. Climbing stops at the first owner of
// another kind, so that an alert on a Pod and one on its Deployment name the
// same target.
var climbable = map[schema.GroupKind]bool{
	{Group: "", Kind: "Pod"}:            true,
	{Group: "apps", Kind: "ReplicaSet"}: true,
	{Group: "batch", Kind: "Job"}:       true,
}

// defaultAPIVersions fills in a reference without apiVersion.
var defaultAPIVersions = map[string]string{"Pod": "v1", "ReplicaSet": "apps/v1", "Job": "batch/v1"}

const (
	// maxOwnerDepth bounds the climb: Pod, ReplicaSet, Deployment and one
	// more.
	maxOwnerDepth = 4
	// resolutionTTL is how long a resolution is remembered, so that a storm
	// of alerts about one Pod reads its owners once.
	resolutionTTL = 30 * time.Second
)

// OwnerResolver climbs a Pod (or ReplicaSet, or Job) to its top-level
// workload controller through metadata-only reads of its controller owner
// references.
type OwnerResolver struct {
	// Reader reads object metadata; the manager's APIReader in production,
	// so a freshly created Pod is found.
	Reader client.Reader
	cache  *cache.LRUExpireCache
}

// NewOwnerResolver returns an OwnerResolver reading through r.
func NewOwnerResolver(r client.Reader) *OwnerResolver {
	return &OwnerResolver{Reader: r, cache: cache.NewLRUExpireCache(4096)}
}

// Resolve returns the top-level workload controller of target, or target
// itself when it is not a Pod, ReplicaSet or Job, has no controller, or is
// gone (a signal about a deleted Pod still names that Pod). Only a failed
// read is an error: the caller should answer it as retryable.
func (o *OwnerResolver) Resolve(ctx context.Context, target v1alpha1.ResourceIdentifier) (v1alpha1.ResourceIdentifier, error) {
	if !o.isClimbable(target) || target.Namespace == "" {
		return target, nil
	}
	key := target.Namespace + "/" + target.Kind + "/" + target.Name
	if o.cache != nil {
		if v, ok := o.cache.Get(key); ok {
			return v.(v1alpha1.ResourceIdentifier), nil
		}
	}
	cur := target
	if cur.APIVersion == "" {
		cur.APIVersion = defaultAPIVersions[cur.Kind]
	}
	for range maxOwnerDepth {
		if !o.isClimbable(cur) {
			break
		}
		owner, found, err := o.controllerOf(ctx, cur)
		if err != nil {
			return v1alpha1.ResourceIdentifier{}, err
		}
		if !found {
			break
		}
		cur = owner
	}
	if o.cache != nil {
		o.cache.Add(key, cur, resolutionTTL)
	}
	return cur, nil
}

func (o *OwnerResolver) isClimbable(t v1alpha1.ResourceIdentifier) bool {
	apiVersion := t.APIVersion
	if apiVersion == "" {
		apiVersion = defaultAPIVersions[t.Kind]
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return false
	}
	return climbable[schema.GroupKind{Group: gv.Group, Kind: t.Kind}]
}

// controllerOf reads obj's metadata and returns its controller owner.
func (o *OwnerResolver) controllerOf(ctx context.Context, obj v1alpha1.ResourceIdentifier) (v1alpha1.ResourceIdentifier, bool, error) {
	gv, err := schema.ParseGroupVersion(obj.APIVersion)
	if err != nil {
		return v1alpha1.ResourceIdentifier{}, false, nil
	}
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(gv.WithKind(obj.Kind))
	if err := o.Reader.Get(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: obj.Name}, meta); err != nil {
		if apierrors.IsNotFound(err) {
			return v1alpha1.ResourceIdentifier{}, false, nil
		}
		return v1alpha1.ResourceIdentifier{}, false, fmt.Errorf("get %s %s/%s metadata: %w", obj.Kind, obj.Namespace, obj.Name, err)
	}
	ref := metav1.GetControllerOf(meta)
	if ref == nil {
		return v1alpha1.ResourceIdentifier{}, false, nil
	}
	return v1alpha1.ResourceIdentifier{
		Kind:       ref.Kind,
		Name:       ref.Name,
		Namespace:  obj.Namespace,
		APIVersion: ref.APIVersion,
	}, true, nil
}
