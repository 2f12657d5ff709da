package scope

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// ManagedLabel is kubernaut's opt-in label; its values are "true" and
// "false", and any other value counts as no label, as in kubernaut.
const ManagedLabel = "kubernaut.ai/managed"

// Verdict is whether a target is in scope, and why.
type Verdict struct {
	Managed bool
	// Reason names the object whose label decided, or the labels that are
	// missing and how to add one; it goes into the signal's audit line and
	// answer.
	Reason string
}

// objectKinds are the kinds whose own label is read, each with its group
// (all at version v1): kubernaut's list, without Secret and ConfigMap,
// which RBAC cannot let the gateway get without letting it read their data.
// A target of any other kind is decided by its namespace, as kubernaut
// decides a kind it does not know. The gateway's ClusterRole grants get on
// exactly these.
var objectKinds = map[string]string{
	"Pod": "", "Node": "", "Service": "", "Namespace": "", "PersistentVolume": "",
	"ReplicaSet": "apps", "Deployment": "apps", "StatefulSet": "apps", "DaemonSet": "apps",
	"Job": "batch", "CronJob": "batch",
}

// ObjectKinds returns the kinds whose own label Check reads, Namespace
// among them: the gateway's ClusterRole grants get on each.
func ObjectKinds() []schema.GroupVersionKind {
	out := make([]schema.GroupVersionKind, 0, len(objectKinds))
	for kind, group := range objectKinds {
		out = append(out, schema.GroupVersionKind{Group: group, Version: "v1", Kind: kind})
	}
	return out
}

// clusterScoped are the kinds of objectKinds that no namespace holds.
var clusterScoped = map[string]bool{"Node": true, "Namespace": true, "PersistentVolume": true}

// Checker reads the labels with metadata-only Gets through Reader, which
// must read the API server directly.
type Checker struct {
	Reader client.Reader
	// ClusterID is the cluster Reader reads (the gateway's --cluster-id;
	// empty for the local cluster). A target in any other cluster is out
	// of scope: its labels cannot be read here, and kubernaut's gateway
	// refuses to decide such a target without a fleet adapter.
	ClusterID string
}

// Check decides target's scope by kubernaut's rules: the target's own
// label first, then, for a namespaced target, its namespace's; a
// cluster-scoped target without the label, or a namespace without it, is
// out of scope. A target that no longer exists is decided by its
// namespace. An error means the labels could not be read; nothing is
// decided then. clusterID is the signal's cluster.
func (c Checker) Check(ctx context.Context, clusterID string, target v1alpha1.ResourceIdentifier) (Verdict, error) {
	what := describe(target)
	gvk, readsOwn := objectGVK(target)
	if clusterID != c.ClusterID {
		return Verdict{Reason: fmt.Sprintf("%s is in cluster %q, and this gateway reads the %s labels of cluster %q only", what, clusterID, ManagedLabel, c.ClusterID)}, nil
	}
	if readsOwn {
		managed, set, err := c.label(ctx, gvk, client.ObjectKey{Namespace: target.Namespace, Name: target.Name})
		if err != nil {
			return Verdict{}, fmt.Errorf("read the %s label of %s: %w", ManagedLabel, what, err)
		}
		if set {
			return Verdict{Managed: managed, Reason: fmt.Sprintf("%s is labelled %s=%t", what, ManagedLabel, managed)}, nil
		}
		if clusterScoped[target.Kind] {
			return Verdict{Reason: fmt.Sprintf("%s is not labelled %s=true, and a cluster-scoped object inherits no namespace's scope; to opt in: kubectl label %s %s %s=true",
				what, ManagedLabel, strings.ToLower(target.Kind), target.Name, ManagedLabel)}, nil
		}
	}
	if target.Namespace == "" {
		return Verdict{Reason: fmt.Sprintf("%s has no namespace and its kind's label is not read; it is never in scope", what)}, nil
	}
	ns := "namespace " + target.Namespace
	managed, set, err := c.label(ctx, schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, client.ObjectKey{Name: target.Namespace})
	if err != nil {
		return Verdict{}, fmt.Errorf("read the %s label of %s: %w", ManagedLabel, ns, err)
	}
	if set {
		return Verdict{Managed: managed, Reason: fmt.Sprintf("%s is labelled %s=%t", ns, ManagedLabel, managed)}, nil
	}
	optIn := fmt.Sprintf("to opt in: kubectl label namespace %s %s=true", target.Namespace, ManagedLabel)
	if !readsOwn {
		return Verdict{Reason: fmt.Sprintf("%s is not labelled %s=true, and the own label of %s is not read; %s", ns, ManagedLabel, what, optIn)}, nil
	}
	return Verdict{Reason: fmt.Sprintf("neither %s nor %s is labelled %s=true; %s", what, ns, ManagedLabel, optIn)}, nil
}

// label reads the managed label of one object: set is false when the
// object has no valid value or does not exist.
func (c Checker) label(ctx context.Context, gvk schema.GroupVersionKind, key client.ObjectKey) (managed, set bool, err error) {
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(gvk)
	if err := c.Reader.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return false, false, nil
		}
		return false, false, err
	}
	switch obj.Labels[ManagedLabel] {
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, false, nil
}

// objectGVK returns the kind whose own label target's scope reads first:
// one of objectKinds, where target's apiVersion, if it has one, agrees.
func objectGVK(target v1alpha1.ResourceIdentifier) (schema.GroupVersionKind, bool) {
	group, ok := objectKinds[target.Kind]
	if !ok {
		return schema.GroupVersionKind{}, false
	}
	gvk := schema.GroupVersionKind{Group: group, Version: "v1", Kind: target.Kind}
	if target.APIVersion != "" && target.APIVersion != gvk.GroupVersion().String() {
		return schema.GroupVersionKind{}, false
	}
	return gvk, true
}

// describe names target as the reasons do: "Deployment payments/api",
// "Node worker-1".
func describe(target v1alpha1.ResourceIdentifier) string {
	if target.Namespace == "" || clusterScoped[target.Kind] {
		return target.Kind + " " + target.Name
	}
	return target.Kind + " " + target.Namespace + "/" + target.Name
}
