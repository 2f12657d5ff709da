package signal

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// ParseKubernetesEvent decodes and validates a Kubernetes Event, core/v1 or
// events.k8s.io/v1, told apart by apiVersion (a body without apiVersion and
// kind, as some event exporters send, is read as core/v1). A Normal event
// asks for nothing and comes back Ignored; a Warning event becomes a Signal
// about its object. An error wraps ErrInvalid.
func ParseKubernetesEvent(body []byte) (Item, error) {
	var tm metav1.TypeMeta
	if err := decodeOne(body, &tm); err != nil {
		return Item{}, err
	}
	if tm.Kind != "" && tm.Kind != "Event" {
		return Item{}, fmt.Errorf("%w: kind %q is not Event", ErrInvalid, tm.Kind)
	}
	switch tm.APIVersion {
	case "", corev1.SchemeGroupVersion.String():
		var ev corev1.Event
		if err := decodeOne(body, &ev); err != nil {
			return Item{}, err
		}
		return coreEventItem(&ev, body)
	case eventsv1.SchemeGroupVersion.String():
		var ev eventsv1.Event
		if err := decodeOne(body, &ev); err != nil {
			return Item{}, err
		}
		return eventsEventItem(&ev, body)
	default:
		return Item{}, fmt.Errorf("%w: apiVersion %q is neither v1 nor events.k8s.io/v1", ErrInvalid, tm.APIVersion)
	}
}

func coreEventItem(ev *corev1.Event, body []byte) (Item, error) {
	source := ev.ReportingController
	if source == "" {
		source = ev.Source.Component
	}
	firing := firstSet(ev.FirstTimestamp.Time, ev.EventTime.Time, ev.LastTimestamp.Time)
	return eventItem(ev.Type, ev.Reason, ev.Message, source, ev.Namespace, ev.InvolvedObject, firing, body, "involvedObject")
}

func eventsEventItem(ev *eventsv1.Event, body []byte) (Item, error) {
	firing := firstSet(ev.EventTime.Time, ev.DeprecatedFirstTimestamp.Time, ev.DeprecatedLastTimestamp.Time)
	if ev.Series != nil && firing.IsZero() {
		firing = ev.Series.LastObservedTime.Time
	}
	return eventItem(ev.Type, ev.Reason, ev.Note, ev.ReportingController, ev.Namespace, ev.Regarding, firing, body, "regarding")
}

func eventItem(typ, reason, message, source, eventNS string, obj corev1.ObjectReference, firing time.Time, body []byte, objField string) (Item, error) {
	item := Item{AlertName: reason}
	switch typ {
	case corev1.EventTypeNormal:
		item.Ignored = "event type is Normal"
		return item, nil
	case corev1.EventTypeWarning:
	default:
		return Item{}, fmt.Errorf("%w: event type %q is neither %s nor %s", ErrInvalid, typ, corev1.EventTypeNormal, corev1.EventTypeWarning)
	}
	if reason == "" {
		return Item{}, fmt.Errorf("%w: the event has no reason", ErrInvalid)
	}
	if obj.Kind == "" || obj.Name == "" {
		return Item{}, fmt.Errorf("%w: %s needs a kind and a name", ErrInvalid, objField)
	}
	ns := obj.Namespace
	if ns == "" && !clusterScopedKind(obj.Kind) {
		// An event lives in its object's namespace; some senders leave
		// the reference's namespace out.
		ns = eventNS
	}
	if clusterScopedKind(obj.Kind) {
		ns = ""
	}
	item.Signal = &Signal{
		Name:     reason,
		Severity: "warning",
		Type:     TypeKubernetesEvent,
		Source:   source,
		Target: v1alpha1.ResourceIdentifier{
			Kind:       obj.Kind,
			Name:       obj.Name,
			Namespace:  ns,
			APIVersion: obj.APIVersion,
		},
		FiringTime:  firing,
		Labels:      map[string]string{"reason": reason, "type": typ},
		Annotations: map[string]string{"message": message},
		Payload:     append([]byte(nil), body...),
	}
	if message == "" {
		item.Signal.Annotations = nil
	}
	return item, nil
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
