package dedup

import (
	"context"
	"fmt"
	"sort"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// Resolution is what the API server says about one fingerprint in one
// namespace.
type Resolution struct {
	// Claim is the fingerprint's claim; nil when there is none.
	Claim *Claim
	// Holder is the RemediationRequest that holds the fingerprint: the
	// claim's holder as stored (with the recorded UID), or, where there is
	// no claim, the oldest active RemediationRequest the List found. Nil when
	// the claim's holder is not stored (gone, or its creation still in
	// flight) or the List found no active one, and when the claim names a
	// request that it does not vouch for (Foreign). ResolveForGateway's
	// differs: where the claim's holder is not active, GatewayHolder's pick.
	Holder *v1alpha1.RemediationRequest
	// Foreign is set when the claim names a stored request of another
	// fingerprint (Claim.Vouches): a forged claim. It vouches for nothing
	// and is not in flight: no Guard wrote it, so no admission waits on it.
	Foreign bool
}

// Active reports whether the fingerprint is held by an active request.
func (r Resolution) Active() bool { return r.Holder != nil && IsActive(r.Holder) }

// Resolver answers "which RemediationRequest holds fingerprint F". Reader
// must read the API server directly (mgr.GetAPIReader()), never a cache.
type Resolver struct {
	Reader client.Reader
	// Index, when set, answers steps C2 and C4 (cachedActive) instead of
	// kube-apiserver's watch cache: Guard.Index.
	Index client.Reader
}

// Resolve looks fingerprint fp up in namespace ns: the claim first (a Get,
// then a Get of its holder), and the field-selector List only where there is
// no claim, because a List costs O(stored requests) and a Get does not.
// exclude, when set, is left out of the List: a request being re-activated
// must not find itself.
func (r Resolver) Resolve(ctx context.Context, ns, fp string, exclude types.UID) (Resolution, error) {
	res, claimed, err := r.ResolveClaim(ctx, ns, fp)
	if err != nil || claimed {
		return res, err
	}
	holder, err := r.listActive(ctx, ns, fp, exclude)
	if err != nil {
		return Resolution{}, err
	}
	return Resolution{Holder: holder}, nil
}

// ResolveClaim is Resolve without the List: the claim and its holder, two
// Gets. claimed is false when fp has no claim; the Resolution then says
// nothing, since an active request may exist unclaimed (created while the
// webhook was not guarding). Only a caller whose creates the webhook decides
// may go on as if none were active: the webhook Lists before it admits, and
// names an unclaimed active request in its Duplicate denial.
func (r Resolver) ResolveClaim(ctx context.Context, ns, fp string) (res Resolution, claimed bool, err error) {
	lease := &coordinationv1.Lease{}
	err = r.Reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: ClaimName(fp)}, lease)
	switch {
	case err == nil:
		c := &Claim{Lease: lease}
		holder, foreign, err := r.claimHolder(ctx, *c)
		if err != nil {
			return Resolution{}, true, err
		}
		return Resolution{Claim: c, Holder: holder, Foreign: foreign}, true, nil
	case apierrors.IsNotFound(err):
		return Resolution{}, false, nil
	default:
		return Resolution{}, false, fmt.Errorf("get claim %s/%s: %w", ns, ClaimName(fp), err)
	}
}

// ClaimHolder returns the claim's holder as stored, or nil when no request of
// that name and recorded UID and the claim's fingerprint exists.
func (r Resolver) ClaimHolder(ctx context.Context, c Claim) (*v1alpha1.RemediationRequest, error) {
	holder, _, err := r.claimHolder(ctx, c)
	return holder, err
}

// claimHolder is ClaimHolder that also says whether the claim names a
// stored request of another fingerprint (foreign).
func (r Resolver) claimHolder(ctx context.Context, c Claim) (holder *v1alpha1.RemediationRequest, foreign bool, err error) {
	ns, name := c.Lease.Namespace, c.HolderName()
	if name == "" {
		return nil, false, nil
	}
	rr := &v1alpha1.RemediationRequest{}
	if err := r.Reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, rr); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("get claim holder %s/%s: %w", ns, name, err)
	}
	if uid := c.HolderUID(); uid != "" && rr.UID != uid {
		// Same name, another object: the recorded holder is gone.
		return nil, false, nil
	}
	if !c.Vouches(rr) {
		return nil, true, nil
	}
	return rr, false, nil
}

// listActive returns the oldest active request with fingerprint fp, or nil.
func (r Resolver) listActive(ctx context.Context, ns, fp string, exclude types.UID) (*v1alpha1.RemediationRequest, error) {
	items, err := ListByFingerprint(ctx, r.Reader, ns, fp)
	if err != nil {
		return nil, err
	}
	return oldestActive(items, exclude), nil
}

// cachedActive is the look of steps C2 and C4: the oldest active request
// with fingerprint fp, or nil, found in r.Index (from memory) or, without
// one, in kube-apiserver's watch cache (resourceVersion "0": served at
// once, without waiting for the cache to catch up with etcd, and without a
// request to etcd, but filtering every request of the namespace), and
// confirmed by a direct Get before it counts. The cache may still show a
// request that has since ended or been deleted as active; such a one must
// never get the claim, so only the request as stored now does. docs/design.md, section 5,
// says why a request the cache has not seen yet may be missed.
func (r Resolver) cachedActive(ctx context.Context, ns, fp string, exclude types.UID) (*v1alpha1.RemediationRequest, error) {
	items, err := r.cached(ctx, ns, fp)
	if err != nil {
		return nil, err
	}
	for _, cached := range activeOldestFirst(items, exclude) {
		rr := &v1alpha1.RemediationRequest{}
		err := r.Reader.Get(ctx, client.ObjectKeyFromObject(cached), rr)
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return nil, fmt.Errorf("confirm remediationrequest %s/%s: %w", ns, cached.Name, err)
		case rr.UID != exclude && rr.Spec.SignalFingerprint == fp && IsActive(rr):
			return rr, nil
		}
	}
	return nil, nil
}

// cached returns the requests with fingerprint fp in ns as r.Index, or
// else the watch cache, shows them.
func (r Resolver) cached(ctx context.Context, ns, fp string) ([]v1alpha1.RemediationRequest, error) {
	if r.Index == nil {
		return listByFingerprint(ctx, r.Reader, ns, fp, true)
	}
	list := &v1alpha1.RemediationRequestList{}
	if err := r.Index.List(ctx, list, client.InNamespace(ns), client.MatchingFields{v1alpha1.FingerprintField: fp}); err != nil {
		return nil, fmt.Errorf("look up fingerprint %s in %s in the index: %w", fp, ns, err)
	}
	return list.Items, nil
}

// oldestActive returns the oldest active request of items but exclude, or
// nil.
func oldestActive(items []v1alpha1.RemediationRequest, exclude types.UID) *v1alpha1.RemediationRequest {
	if active := activeOldestFirst(items, exclude); len(active) > 0 {
		return active[0]
	}
	return nil
}

// activeOldestFirst returns the active requests of items but exclude, the
// oldest first.
func activeOldestFirst(items []v1alpha1.RemediationRequest, exclude types.UID) []*v1alpha1.RemediationRequest {
	active := make([]*v1alpha1.RemediationRequest, 0, 1)
	for i := range items {
		if items[i].UID != exclude && IsActive(&items[i]) {
			active = append(active, &items[i])
		}
	}
	// Several active requests can only exist where some were created while
	// the webhook was not guarding; the oldest is the incident's.
	sort.Slice(active, func(i, j int) bool {
		a, b := active[i], active[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
	return active
}

// ListByFingerprint lists the requests with fingerprint fp in namespace ns
// with a server-side field selector on spec.signalFingerprint, falling back
// to list-and-filter only where the server refuses the selector (a
// kubernaut CRD installed without the selectable field).
func ListByFingerprint(ctx context.Context, reader client.Reader, ns, fp string) ([]v1alpha1.RemediationRequest, error) {
	return listByFingerprint(ctx, reader, ns, fp, false)
}

// listByFingerprint is ListByFingerprint, from kube-apiserver's watch cache
// as it stands (resourceVersion "0") when fromCache is set.
func listByFingerprint(ctx context.Context, reader client.Reader, ns, fp string, fromCache bool) ([]v1alpha1.RemediationRequest, error) {
	opts := func(more ...client.ListOption) []client.ListOption {
		opts := append([]client.ListOption{client.InNamespace(ns)}, more...)
		if fromCache {
			// A ListOptions of its own per call: the client writes the
			// selector into Raw.
			opts = append(opts, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: "0"}})
		}
		return opts
	}
	list := &v1alpha1.RemediationRequestList{}
	err := reader.List(ctx, list, opts(client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector(v1alpha1.FingerprintField, fp)})...)
	if err == nil {
		return list.Items, nil
	}
	if !apierrors.IsBadRequest(err) {
		return nil, fmt.Errorf("list remediationrequests in %s by fingerprint: %w", ns, err)
	}
	list = &v1alpha1.RemediationRequestList{}
	if err := reader.List(ctx, list, opts()...); err != nil {
		return nil, fmt.Errorf("list remediationrequests in %s: %w", ns, err)
	}
	out := list.Items[:0]
	for _, rr := range list.Items {
		if rr.Spec.SignalFingerprint == fp {
			out = append(out, rr)
		}
	}
	return out, nil
}
