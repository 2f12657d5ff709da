package target

import (
	"fmt"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// Kind is one discovered kind: its preferred group and version, and its
// scope.
type Kind struct {
	schema.GroupVersionKind
	Namespaced bool
}

// APIVersion is the kind's group/version as a reference spells it.
func (k Kind) APIVersion() string { return k.GroupVersion().String() }

// kindSnapshot is what one discovery found.
type kindSnapshot struct {
	// byLabel maps a resource's singular name and its lower-case kind to
	// the kind, the first group discovered winning (the built-in groups
	// come first).
	byLabel map[string]Kind
	// byGroupKind maps a group and kind to the kind.
	byGroupKind map[schema.GroupKind]Kind
	// byKind maps a kind alone to the first group that serves it.
	byKind map[string]Kind
}

// Kinds maps alert label names and references to the kinds the API server
// serves, custom resources included, from discovery: the facts kubernaut's
// APIResourceRegistry keeps (a label names a kind by the resource's
// singular name or its lower-case kind, and the kind's scope decides where
// it is looked up). Discovery is read on first use and again once MaxAge
// has passed; a failed read keeps the last snapshot.
type Kinds struct {
	discovery discovery.DiscoveryInterface
	// MaxAge is how long a snapshot is used before discovery is read
	// again, so that a CRD installed later is found.
	MaxAge time.Duration

	mu   sync.Mutex
	snap *kindSnapshot
	at   time.Time
}

// DefaultKindsMaxAge is Kinds.MaxAge unless set: kubernaut's registry
// refreshes every 5 minutes.
const DefaultKindsMaxAge = 5 * time.Minute

// NewKinds returns Kinds reading d.
func NewKinds(d discovery.DiscoveryInterface) *Kinds {
	return &Kinds{discovery: d, MaxAge: DefaultKindsMaxAge}
}

// snapshot returns the current snapshot, reading discovery when there is
// none or it is older than MaxAge. Only a first read that fails is an error.
func (k *Kinds) snapshot() (*kindSnapshot, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.snap != nil && time.Since(k.at) < k.MaxAge {
		return k.snap, nil
	}
	snap, err := discover(k.discovery)
	if err != nil {
		if k.snap != nil {
			return k.snap, nil
		}
		return nil, fmt.Errorf("discover the API server's kinds: %w", err)
	}
	k.snap, k.at = snap, time.Now()
	return snap, nil
}

// discover reads the preferred version of every resource. A group that
// fails to answer is left out (client-go returns the others with the
// error), as kubernaut does.
func discover(d discovery.DiscoveryInterface) (*kindSnapshot, error) {
	lists, err := d.ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		return nil, err
	}
	snap := &kindSnapshot{byLabel: map[string]Kind{}, byGroupKind: map[schema.GroupKind]Kind{}, byKind: map[string]Kind{}}
	for _, list := range lists {
		gv, perr := schema.ParseGroupVersion(list.GroupVersion)
		if perr != nil {
			continue
		}
		for _, res := range list.APIResources {
			snap.add(gv, res)
		}
	}
	if len(snap.byKind) == 0 {
		return nil, fmt.Errorf("discovery named no kinds: %w", err)
	}
	return snap, nil
}

func (s *kindSnapshot) add(gv schema.GroupVersion, res metav1.APIResource) {
	if res.Kind == "" || strings.Contains(res.Name, "/") {
		return
	}
	k := Kind{GroupVersionKind: gv.WithKind(res.Kind), Namespaced: res.Namespaced}
	gk := k.GroupKind()
	if _, ok := s.byGroupKind[gk]; !ok {
		s.byGroupKind[gk] = k
	}
	if _, ok := s.byKind[res.Kind]; !ok {
		s.byKind[res.Kind] = k
	}
	for _, label := range []string{res.SingularName, strings.ToLower(res.Kind)} {
		if _, ok := s.byLabel[label]; label != "" && !ok {
			s.byLabel[label] = k
		}
	}
}

// ForLabel returns the kind a label name names, if any.
func (k *Kinds) ForLabel(label string) (Kind, bool, error) {
	snap, err := k.snapshot()
	if err != nil {
		return Kind{}, false, err
	}
	kind, ok := snap.byLabel[label]
	return kind, ok, nil
}

// ForReference returns the kind a reference names: by its group and kind
// when apiVersion is set, else by kind alone.
func (k *Kinds) ForReference(apiVersion, kind string) (Kind, bool, error) {
	snap, err := k.snapshot()
	if err != nil {
		return Kind{}, false, err
	}
	if apiVersion != "" {
		gv, perr := schema.ParseGroupVersion(apiVersion)
		if perr != nil {
			return Kind{}, false, nil
		}
		found, ok := snap.byGroupKind[schema.GroupKind{Group: gv.Group, Kind: kind}]
		return found, ok, nil
	}
	found, ok := snap.byKind[kind]
	return found, ok, nil
}

// isKind reports whether k is group's kind.
func isKind(k Kind, group, kind string) bool { return k.Group == group && k.Kind == kind }
