package target

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// maxOwnerDepth bounds the climb: Pod, ReplicaSet, Deployment, and
// operators' resources above them.
const maxOwnerDepth = 8

// eventSubject is an event's object, its scope and apiVersion as
// discovery serves its kind (a cluster-scoped kind's namespace is
// dropped). served is false for a kind discovery does not serve.
func (r *Resolver) eventSubject(ctx context.Context, t v1alpha1.ResourceIdentifier) (c choice, served bool, err error) {
	k, ok, err := r.kinds.ForReference(t.APIVersion, t.Kind)
	if err == nil && !ok {
		k, ok, err = r.kinds.ForReference("", t.Kind)
	}
	if err != nil || !ok {
		return choice{}, false, err
	}
	o := newObject(k, t.Namespace, t.Name)
	if err := r.read(ctx, o); err != nil {
		return choice{}, false, err
	}
	return choice{subject: o, why: []string{"the event is about " + o.String()}}, true, nil
}

// climb follows o's controller owner references up to the top controller,
// custom resources included, and returns it. An owner that is gone ends
// the climb below it.
func (r *Resolver) climb(ctx context.Context, o *object, why []string) (*object, []string, error) {
	if !o.known() {
		if err := r.read(ctx, o); err != nil {
			return nil, nil, err
		}
	}
	for range maxOwnerDepth {
		if o.meta == nil {
			break
		}
		ref := metav1.GetControllerOf(o.meta)
		if ref == nil {
			break
		}
		k, ok, err := r.kinds.ForReference(ref.APIVersion, ref.Kind)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			break
		}
		owner := newObject(k, o.namespace, ref.Name)
		if err := r.read(ctx, owner); err != nil {
			return nil, nil, err
		}
		if !owner.known() {
			break
		}
		why = append(why, fmt.Sprintf("controlled by %s", owner))
		o = owner
	}
	return o, why, nil
}

// serviceWorkload is the workload a Service selects: its Pods' top
// controller (the one controlling most of them, by name on a tie). A
// Service that selects no Pod, or has no selector, is its own subject.
func (r *Resolver) serviceWorkload(ctx context.Context, svc *object, why []string) (*object, []string, error) {
	pods, err := r.selectedPods(ctx, svc.namespace, svc.name)
	if err != nil {
		return nil, nil, err
	}
	if len(pods) == 0 {
		return svc, append(why, svc.String()+" selects no Pod: it is its own subject"), nil
	}
	count := map[string]int{}
	tops := map[string]*object{}
	for _, name := range pods {
		pod, err := r.builtin("Pod", svc.namespace, name)
		if err != nil || pod == nil {
			return nil, nil, err
		}
		top, _, err := r.climb(ctx, pod, nil)
		if err != nil {
			return nil, nil, err
		}
		count[top.String()]++
		tops[top.String()] = top
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if count[keys[i]] != count[keys[j]] {
			return count[keys[i]] > count[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return tops[keys[0]], append(why, fmt.Sprintf("%s selects Pods of %s", svc, keys[0])), nil
}

// maxSelectedPods bounds the Pods of a Service whose controllers are
// compared.
const maxSelectedPods = 20

// selectedPods names the Pods (at most maxSelectedPods) that the Service
// ns/name selects; none when it has no selector or does not exist.
func (r *Resolver) selectedPods(ctx context.Context, ns, name string) ([]string, error) {
	return remember(r, "selected/"+ns+"/"+name, func() ([]string, error) {
		var svc corev1.Service
		if err := r.reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &svc); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, nil
			}
			return nil, fmt.Errorf("get service %s/%s: %w", ns, name, err)
		}
		if len(svc.Spec.Selector) == 0 {
			return nil, nil
		}
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PodList"))
		if err := r.reader.List(ctx, list, client.InNamespace(ns),
			client.MatchingLabelsSelector{Selector: k8slabels.SelectorFromSet(svc.Spec.Selector)}, client.Limit(maxSelectedPods)); err != nil {
			return nil, fmt.Errorf("list the pods of service %s/%s: %w", ns, name, err)
		}
		var names []string
		for _, p := range list.Items {
			names = append(names, p.Name)
		}
		return names, nil
	})
}

// deletedPodOwner is the owner that still exists of a Pod that no longer
// does, found through the Pod's name as its controllers generate it: a
// ReplicaSet's Pod is <replicaset>-<suffix>, the ReplicaSet carrying the
// pod-template-hash its own name ends with; a DaemonSet's and a Job's
// <owner>-<suffix> (an indexed Job's <job>-<index>-<suffix>); a
// StatefulSet's <statefulset>-<ordinal>. nil, with the reason, when none
// exists.
func (r *Resolver) deletedPodOwner(ctx context.Context, pod *object) (*object, string, error) {
	for _, g := range podOwnerGuesses(pod.name) {
		k, ok, err := r.kinds.ForReference(g.apiVersion, g.kind)
		if err != nil {
			return nil, "", err
		}
		if !ok {
			continue
		}
		owner := newObject(k, pod.namespace, g.name)
		if err := r.read(ctx, owner); err != nil {
			return nil, "", err
		}
		if owner.meta == nil || (g.hash != "" && owner.meta.Labels["pod-template-hash"] != g.hash) {
			continue
		}
		return owner, fmt.Sprintf("%s no longer exists; its name names %s", pod, owner), nil
	}
	return nil, fmt.Sprintf("%s no longer exists and no owner its name names does: a signal about a Pod that is gone asks for no remediation", pod), nil
}

// ownerGuess is an owner a Pod's name may name.
type ownerGuess struct {
	apiVersion, kind, name string
	// hash, when set, is the pod-template-hash the owner must carry.
	hash string
}

// podOwnerGuesses lists the owners a Pod's name may name, most specific
// first.
func podOwnerGuesses(name string) []ownerGuess {
	var out []ownerGuess
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return nil
	}
	prefix, suffix := name[:i], name[i+1:]
	if isOrdinal(suffix) {
		out = append(out, ownerGuess{apiVersion: "apps/v1", kind: "StatefulSet", name: prefix})
	}
	if j := strings.LastIndexByte(prefix, '-'); j > 0 {
		out = append(out, ownerGuess{apiVersion: "apps/v1", kind: "ReplicaSet", name: prefix, hash: prefix[j+1:]})
		if isOrdinal(prefix[j+1:]) {
			out = append(out, ownerGuess{apiVersion: "batch/v1", kind: "Job", name: prefix[:j]})
		}
	}
	return append(out,
		ownerGuess{apiVersion: "apps/v1", kind: "DaemonSet", name: prefix},
		ownerGuess{apiVersion: "batch/v1", kind: "Job", name: prefix})
}

func isOrdinal(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
