package signal

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
)

// KubernetesEvent decodes and validates a Kubernetes Event, core/v1 or
// events.k8s.io/v1, told apart by apiVersion (a body without apiVersion and
// kind, as some event exporters send, is read as core/v1). A Normal event
// asks for nothing and comes back Ignored; a Warning event becomes a Signal
// about its object. An error wraps ErrInvalid.
func (p Parser) KubernetesEvent(body []byte) (Item, error) {
	var tm metav1.TypeMeta
	if err := decodeOne(body, &tm); err != nil {
		return Item{}, err
	}
	if tm.Kind != "" && tm.Kind != "Event" {
		return Item{}, fmt.Errorf("%w: kind %q is not Event", ErrInvalid, tm.Kind)
	}
	var ev event
	switch tm.APIVersion {
	case "", corev1.SchemeGroupVersion.String():
		var core corev1.Event
		if err := decodeOne(body, &core); err != nil {
			return Item{}, err
		}
		ev = coreEvent(&core)
	case eventsv1.SchemeGroupVersion.String():
		var e eventsv1.Event
		if err := decodeOne(body, &e); err != nil {
			return Item{}, err
		}
		ev = eventsEvent(&e)
	default:
		return Item{}, fmt.Errorf("%w: apiVersion %q is neither v1 nor events.k8s.io/v1", ErrInvalid, tm.APIVersion)
	}
	return p.eventItem(ev, body)
}

// event is what the gateway reads of an Event of either API.
type event struct {
	typ, reason, message string
	namespace            string
	object               corev1.ObjectReference
	// objectField names object in the payload: involvedObject or
	// regarding.
	objectField string
	firing      time.Time
}

func coreEvent(ev *corev1.Event) event {
	return event{
		typ: ev.Type, reason: ev.Reason, message: ev.Message, namespace: ev.Namespace,
		object: ev.InvolvedObject, objectField: "involvedObject",
		firing: firstSet(ev.FirstTimestamp.Time, ev.EventTime.Time, ev.LastTimestamp.Time),
	}
}

func eventsEvent(ev *eventsv1.Event) event {
	firing := firstSet(ev.EventTime.Time, ev.DeprecatedFirstTimestamp.Time, ev.DeprecatedLastTimestamp.Time)
	if ev.Series != nil && firing.IsZero() {
		firing = ev.Series.LastObservedTime.Time
	}
	return event{
		typ: ev.Type, reason: ev.Reason, message: ev.Note, namespace: ev.Namespace,
		object: ev.Regarding, objectField: "regarding", firing: firing,
	}
}

func (p Parser) eventItem(ev event, body []byte) (Item, error) {
	item := Item{AlertName: ev.reason}
	switch ev.typ {
	case corev1.EventTypeNormal:
		item.Ignored = "event type is Normal"
		return item, nil
	case corev1.EventTypeWarning:
	default:
		return Item{}, fmt.Errorf("%w: event type %q is neither %s nor %s", ErrInvalid, ev.typ, corev1.EventTypeNormal, corev1.EventTypeWarning)
	}
	if ev.reason == "" {
		return Item{}, fmt.Errorf("%w: the event has no reason", ErrInvalid)
	}
	obj := ev.object
	if obj.Kind == "" || obj.Name == "" {
		return Item{}, fmt.Errorf("%w: %s needs a kind and a name", ErrInvalid, ev.objectField)
	}
	target, err := eventTarget(ev)
	if err != nil {
		return Item{}, err
	}
	sig := &Signal{
		Name: ev.reason,
		// kubernaut's gateway rates an event by its type.
		Severity:   ev.typ,
		Source:     SourceKubernetesEvents,
		Target:     target,
		ClusterID:  p.ClusterID,
		FiringTime: ev.firing,
		// No labels and no annotations, as kubernaut's event adapter:
		// the reason is the signal's name, the type its severity, and
		// the message is in the payload. kubernaut's signal processing
		// and its agent read an RR's signal labels as the alert's own
		// (a degraded context, target overrides), so none is made up.
		Payload: string(body),
	}
	if err := p.fit(sig, jsonBytes(sig.Payload)); err != nil {
		return Item{}, err
	}
	item.Signal = sig
	return item, nil
}

// eventTarget is the event's object, its namespace taken from the event
// where the reference leaves it out, every part checked against what the
// schema and the fingerprint accept.
func eventTarget(ev event) (v1alpha1.ResourceIdentifier, error) {
	obj := ev.object
	objPath := field.NewPath(ev.objectField)
	var errs field.ErrorList
	if len(ev.reason) > v1alpha1.MaxSignalNameLength {
		errs = append(errs, field.TooLong(field.NewPath("reason"), "", v1alpha1.MaxSignalNameLength))
	}
	for _, msg := range dedup.ValidateKind(obj.Kind) {
		errs = append(errs, field.Invalid(objPath.Child("kind"), obj.Kind, msg))
	}
	for _, msg := range dedup.ValidateName(obj.Name) {
		errs = append(errs, field.Invalid(objPath.Child("name"), obj.Name, msg))
	}
	ns, nsPath := obj.Namespace, objPath.Child("namespace")
	switch {
	case clusterScopedKind(obj.Kind):
		ns = ""
	case ns == "":
		// An event lives in its object's namespace; some senders leave
		// the reference's namespace out.
		ns, nsPath = ev.namespace, field.NewPath("metadata", "namespace")
	}
	if ns != "" {
		for _, msg := range dedup.ValidateNamespace(ns) {
			errs = append(errs, field.Invalid(nsPath, ns, msg))
		}
	}
	if err := invalid(errs); err != nil {
		return v1alpha1.ResourceIdentifier{}, err
	}
	return v1alpha1.ResourceIdentifier{Kind: obj.Kind, Name: obj.Name, Namespace: ns, APIVersion: obj.APIVersion}, nil
}

// clusterScopedKind reports whether kind is one of the built-in
// cluster-scoped kinds events are commonly about.
func clusterScopedKind(kind string) bool {
	switch kind {
	case "Node", "PersistentVolume", "Namespace", "ClusterRole", "StorageClass", "CustomResourceDefinition":
		return true
	}
	return false
}

func firstSet(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}
