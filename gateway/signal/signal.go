package signal

import (
	"errors"
	"fmt"
	"strings"
	"time"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
)

// The kinds of signal the gateway's two endpoints take, as its metrics and
// audit lines name them.
const (
	TypePrometheus      = "prometheus"
	TypeKubernetesEvent = "kubernetes-event"
)

// What a RemediationRequest's spec says about its signal, as kubernaut's
// gateway writes it.
const (
	// SignalTypeAlert is spec.signalType of every signal.
	SignalTypeAlert = "alert"
	// SourcePrometheus is spec.signalSource of an alert from an
	// Alertmanager notification: the monitoring system, not the receiver.
	SourcePrometheus = "prometheus"
	// SourceKubernetesEvents is spec.signalSource of a Kubernetes Event.
	SourceKubernetesEvents = "kubernetes-events"
	// SeverityUnknown is the severity of an alert without a severity label.
	SeverityUnknown = "unknown"
	// ClusterLabel is the alert label naming the cluster an alert came
	// from, as Thanos and kubernaut's gateway name it.
	ClusterLabel = "cluster"
)

// ErrInvalid marks a payload or a signal that can never be accepted as sent.
// Callers answer it with a 4xx: a retry of the same bytes cannot succeed.
var ErrInvalid = errors.New("invalid signal")

// ErrTooLarge marks a signal whose RemediationRequest would be larger than a
// request may be (Parser.MaxObjectBytes). It wraps ErrInvalid.
var ErrTooLarge = fmt.Errorf("%w: too large", ErrInvalid)

// Signal is one incoming report of an incident, ready to be deduplicated.
type Signal struct {
	// Name is the alert name or the event reason.
	Name string
	// Severity as the source rates it, for example critical or warning;
	// SeverityUnknown when it gives none.
	Severity string
	// Source is the monitoring system: SourcePrometheus or
	// SourceKubernetesEvents.
	Source string
	// Target is the resource the signal is about. The event parser fills
	// it with the event's object; an alert's is left unset. Package target
	// names the incident's subject from it or from the alert's labels.
	Target v1alpha1.ResourceIdentifier
	// ClusterID names the cluster; part of the fingerprint when set.
	ClusterID string
	// FiringTime is when the source says the signal started; zero when it
	// does not say.
	FiringTime time.Time
	// Labels and Annotations are the signal's own, as sent.
	Labels      map[string]string
	Annotations map[string]string
	// Payload is the notification as received, as text: the whole
	// Alertmanager notification (or, where that would make the request too
	// large, the notification with only this alert), or the event.
	Payload string
}

// Fingerprint returns the incident's fingerprint, computed by the shared
// dedup core from the signal's target. A target that cannot be
// fingerprinted is an error wrapping ErrInvalid.
func (s *Signal) Fingerprint() (string, error) {
	fp, err := dedup.Fingerprint(dedup.Target{
		ClusterID: s.ClusterID,
		Namespace: s.Target.Namespace,
		Kind:      s.Target.Kind,
		Name:      s.Target.Name,
	})
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return fp, nil
}

// Item is the parser's verdict on one alert or event: exactly one of Signal,
// Ignored and Err is set.
type Item struct {
	// Signal is set for a signal that asks for a remediation.
	Signal *Signal
	// Ignored says why the item asks for nothing (a resolved alert, a
	// Normal event).
	Ignored string
	// Err, wrapping ErrInvalid, says why the item can never be accepted.
	Err error
	// AlertName names the alert or event reason where known, for the
	// response.
	AlertName string
}

// Parser decodes what senders post into signals. The zero Parser is ready
// for use: signals without a cluster of their own get none, and requests
// are bounded by DefaultMaxObjectBytes.
type Parser struct {
	// ClusterID is the cluster a signal comes from when it does not say:
	// every event, and an alert without a cluster label (the label, where
	// present, wins: a federated Alertmanager sends the alerts of many
	// clusters). Empty means the local cluster, as in kubernaut. When set
	// it must pass dedup.ValidateClusterID.
	ClusterID string
	// MaxObjectBytes bounds the size of the RemediationRequest built from a
	// signal; a signal that cannot fit is an ErrTooLarge. Defaults to
	// DefaultMaxObjectBytes.
	MaxObjectBytes int
}

// parseAlertmanager is Parser{}.Alertmanager.
func parseAlertmanager(body []byte) (*Alertmanager, error) { return Parser{}.Alertmanager(body) }

// parseKubernetesEvent is Parser{}.KubernetesEvent.
func parseKubernetesEvent(body []byte) (Item, error) { return Parser{}.KubernetesEvent(body) }

// Validate reports a configuration that cannot work: a ClusterID that is not
// a valid cluster ID, or a negative MaxObjectBytes.
func (p Parser) Validate() error {
	if p.ClusterID != "" {
		if msgs := dedup.ValidateClusterID(p.ClusterID); len(msgs) > 0 {
			return fmt.Errorf("cluster ID %q: %s", p.ClusterID, strings.Join(msgs, "; "))
		}
	}
	if p.MaxObjectBytes < 0 {
		return fmt.Errorf("max object bytes %d: must not be negative", p.MaxObjectBytes)
	}
	return nil
}
