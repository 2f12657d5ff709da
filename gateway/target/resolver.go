package target

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/gateway/signal"
)

// UnknownKind is targetResource.kind of an alert that names no object:
// the kind kubernaut's gateway gives such an alert, and the one its
// orchestrator recognises (it then takes the object its AI analysis names
// as the remediation target).
const UnknownKind = "Unknown"

// Resolution is what Resolve makes of a signal.
type Resolution struct {
	// Target is the incident's subject; unset when Ignored is.
	Target v1alpha1.ResourceIdentifier
	// Ignored, when set, says why the signal asks for nothing.
	Ignored string
	// Reason says how Target was chosen.
	Reason string
}

// memoTTL is how long a read is remembered, so that a storm of alerts
// about one object reads it once.
const memoTTL = 30 * time.Second

// Resolver names the object a signal is about (docs/design.md §3). It
// reads through a client.Reader that must reach the API server (the
// manager's APIReader): metadata-only gets of the objects it climbs,
// Services and their Pods' metadata, EndpointSlices and Nodes.
type Resolver struct {
	reader client.Reader
	kinds  *Kinds
	memo   *cache.LRUExpireCache
}

// NewResolver returns a Resolver reading through r, with kinds from k.
func NewResolver(r client.Reader, k *Kinds) *Resolver {
	return &Resolver{reader: r, kinds: k, memo: cache.NewLRUExpireCache(8192)}
}

// Resolve names sig's subject: an event's object, or the object an
// alert's labels name, climbed to the controller a remediation acts on.
// Only a failed read is an error: the caller should answer it as
// retryable.
func (r *Resolver) Resolve(ctx context.Context, sig *signal.Signal) (Resolution, error) {
	var c choice
	var err error
	if sig.Target.Kind != "" {
		var served bool
		c, served, err = r.eventSubject(ctx, sig.Target)
		if err == nil && !served {
			return Resolution{Target: sig.Target, Reason: "the event is about a " + sig.Target.Kind + ", a kind the API server does not serve"}, nil
		}
	} else {
		c, err = r.alertSubject(ctx, sig.Labels)
	}
	if err != nil {
		return Resolution{}, err
	}
	if c.subject == nil {
		if msgs := dedup.ValidateName(sig.Name); len(msgs) > 0 {
			return Resolution{}, fmt.Errorf("%w: the alert names no object and its alertname %q cannot name its own incident: %s",
				signal.ErrInvalid, sig.Name, strings.Join(msgs, "; "))
		}
		return Resolution{
			Target: v1alpha1.ResourceIdentifier{Kind: UnknownKind, Name: sig.Name, Namespace: c.scope},
			Reason: strings.Join(append(c.why, "no label names an object: the alert is its own incident"), "; "),
		}, nil
	}
	return r.settle(ctx, c.subject, c.why)
}

// choice is the subject a signal names before it is settled, and why; an
// alert that names none keeps the namespace it is scoped to.
type choice struct {
	subject *object
	scope   string
	why     []string
}

// settle takes a chosen subject to the object the incident is about: a
// Service to the workload it selects, a Pod that is gone to its surviving
// owner, then up the controllers.
func (r *Resolver) settle(ctx context.Context, s *object, why []string) (Resolution, error) {
	if err := r.read(ctx, s); err != nil {
		return Resolution{}, err
	}
	var err error
	if isKind(s.kind, "", "Service") {
		if s, why, err = r.serviceWorkload(ctx, s, why); err != nil {
			return Resolution{}, err
		}
	}
	if !s.known() && isKind(s.kind, "", "Pod") {
		owner, reason, err := r.deletedPodOwner(ctx, s)
		if err != nil {
			return Resolution{}, err
		}
		if owner == nil {
			return Resolution{Ignored: reason, Reason: strings.Join(append(why, reason), "; ")}, nil
		}
		s, why = owner, append(why, reason)
	}
	if s, why, err = r.climb(ctx, s, why); err != nil {
		return Resolution{}, err
	}
	return Resolution{Target: s.identifier(), Reason: strings.Join(why, "; ")}, nil
}

// object is a subject being resolved: its kind, name, namespace (empty
// for a cluster-scoped kind) and, once read, its metadata (nil when it was
// not found, or the gateway may not read it).
type object struct {
	kind      Kind
	name      string
	namespace string
	meta      *metav1.PartialObjectMetadata
	// forbidden: RBAC refused the read (a kind the gateway's role does
	// not grant, such as an operator's custom resource). The object is
	// taken to exist, and is not climbed.
	forbidden bool
}

// known reports whether o exists as far as the gateway can tell.
func (o *object) known() bool { return o.meta != nil || o.forbidden }

func (o *object) identifier() v1alpha1.ResourceIdentifier {
	return v1alpha1.ResourceIdentifier{Kind: o.kind.Kind, Name: o.name, Namespace: o.namespace, APIVersion: o.kind.APIVersion()}
}

func (o *object) String() string {
	if o.namespace == "" {
		return o.kind.Kind + " " + o.name
	}
	return o.kind.Kind + " " + o.namespace + "/" + o.name
}

// newObject is the object of kind k named name, in ns when k is
// namespaced.
func newObject(k Kind, ns, name string) *object {
	if !k.Namespaced {
		ns = ""
	}
	return &object{kind: k, name: name, namespace: ns}
}

// read fills o.meta with a metadata-only get (remembered for memoTTL);
// it stays nil when o does not exist.
func (r *Resolver) read(ctx context.Context, o *object) error {
	key := "meta/" + o.kind.GroupVersionKind.String() + "/" + o.namespace + "/" + o.name
	got, err := remember(r, key, func() (readResult, error) {
		meta := &metav1.PartialObjectMetadata{}
		meta.SetGroupVersionKind(o.kind.GroupVersionKind)
		err := r.reader.Get(ctx, client.ObjectKey{Namespace: o.namespace, Name: o.name}, meta)
		switch {
		case apierrors.IsNotFound(err):
			return readResult{}, nil
		case apierrors.IsForbidden(err):
			return readResult{forbidden: true}, nil
		case err != nil:
			return readResult{}, fmt.Errorf("get %s metadata: %w", o, err)
		}
		return readResult{meta: meta}, nil
	})
	o.meta, o.forbidden = got.meta, got.forbidden
	return err
}

// readResult is what a metadata read found.
type readResult struct {
	meta      *metav1.PartialObjectMetadata
	forbidden bool
}

// remember returns what key holds, computing and keeping it for memoTTL
// on a miss.
func remember[T any](r *Resolver, key string, compute func() (T, error)) (T, error) {
	if v, ok := r.memo.Get(key); ok {
		return v.(T), nil
	}
	v, err := compute()
	if err != nil {
		return v, err
	}
	r.memo.Add(key, v, memoTTL)
	return v, nil
}
