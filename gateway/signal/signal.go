package signal

import (
	"errors"
	"time"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
)

// The values of Signal.Type.
const (
	TypePrometheus      = "prometheus"
	TypeKubernetesEvent = "kubernetes-event"
)

// ErrInvalid marks a payload or a signal that can never be accepted as sent.
// Callers answer it with a 4xx: a retry of the same bytes cannot succeed.
var ErrInvalid = errors.New("invalid signal")

// Signal is one incoming report of an incident, ready to be deduplicated.
type Signal struct {
	// Name is the alert name or the event reason.
	Name string
	// Severity as the source rates it, for example critical or warning.
	Severity string
	// Type is TypePrometheus or TypeKubernetesEvent.
	Type string
	// Source names the sender: the Alertmanager receiver, or the event's
	// reporting component.
	Source string
	// Target is the resource the signal is about. Parsers fill it from the
	// payload; OwnerResolver.Resolve may replace a Pod by its controller.
	Target v1alpha1.ResourceIdentifier
	// ClusterID names the cluster; part of the fingerprint when set.
	ClusterID string
	// FiringTime is when the source says the signal started.
	FiringTime time.Time
	// Labels and Annotations are the signal's own, as sent.
	Labels      map[string]string
	Annotations map[string]string
	// Payload is the signal as received (one alert, or the event).
	Payload []byte
}

// Fingerprint returns the incident's fingerprint, computed by the shared
// dedup core from the signal's target.
func (s *Signal) Fingerprint() (string, error) {
	return dedup.Fingerprint(dedup.Target{
		ClusterID: s.ClusterID,
		Namespace: s.Target.Namespace,
		Kind:      s.Target.Kind,
		Name:      s.Target.Name,
	})
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
