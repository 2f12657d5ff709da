package signal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
)

// AlertmanagerVersion is the only webhook payload version Alertmanager has
// ever sent, and the one this parser reads.
const AlertmanagerVersion = "4"

// AlertmanagerMessage is Alertmanager's webhook payload, version 4
// (prometheus/alertmanager notify/webhook.Message), with every field it
// sends. It is declared here rather than imported because the Alertmanager
// module would bring its whole server's dependencies along for one struct.
type AlertmanagerMessage struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   uint64            `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []Alert           `json:"alerts"`
}

// Alert is one alert of an AlertmanagerMessage.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// The alert statuses Alertmanager sends.
const (
	AlertFiring   = "firing"
	AlertResolved = "resolved"
)

// Alertmanager is a decoded Alertmanager payload: its message and one Item
// per alert, in order.
type Alertmanager struct {
	Message AlertmanagerMessage
	Items   []Item
}

// Alertmanager decodes and validates an Alertmanager webhook payload.
// An error (wrapping ErrInvalid) means the payload as a whole is unusable:
// not JSON, not one object, not version 4, or without alerts. Problems of a
// single alert are reported on its Item instead, so that one bad alert does
// not cost the others. A firing alert's Target is left unset: which object
// its labels name is package target's to find, on the API server.
func (p Parser) Alertmanager(body []byte) (*Alertmanager, error) {
	var msg AlertmanagerMessage
	if err := decodeOne(body, &msg); err != nil {
		return nil, err
	}
	if msg.Version != AlertmanagerVersion {
		return nil, fmt.Errorf("%w: version %q is not supported; Alertmanager webhook payload version %q expected",
			ErrInvalid, msg.Version, AlertmanagerVersion)
	}
	if len(msg.Alerts) == 0 {
		return nil, fmt.Errorf("%w: the payload has no alerts", ErrInvalid)
	}
	// Every alert's request carries the notification as received: one
	// string, shared, measured once.
	whole := notification{text: string(body)}
	whole.bytes = jsonBytes(whole.text)
	am := &Alertmanager{Message: msg, Items: make([]Item, len(msg.Alerts))}
	for i := range msg.Alerts {
		am.Items[i] = p.alertItem(&msg, i, whole)
	}
	return am, nil
}

// notification is a payload as a request carries it: its text, and what
// the text takes JSON-encoded.
type notification struct {
	text  string
	bytes int
}

func (p Parser) alertItem(msg *AlertmanagerMessage, i int, whole notification) Item {
	a := &msg.Alerts[i]
	name := a.Labels["alertname"]
	item := Item{AlertName: name}
	switch a.Status {
	case AlertResolved:
		item.Ignored = "alert is resolved"
		return item
	case AlertFiring:
	default:
		item.Err = fmt.Errorf("%w: alerts[%d].status %q is neither %q nor %q", ErrInvalid, i, a.Status, AlertFiring, AlertResolved)
		return item
	}
	if name == "" {
		item.Err = fmt.Errorf("%w: alerts[%d] has no alertname label", ErrInvalid, i)
		return item
	}
	sig, err := p.alertSignal(a, whole)
	if err == nil {
		err = p.fitAlert(sig, msg, i, whole)
	}
	if err != nil {
		item.Err = fmt.Errorf("alerts[%d] (%s): %w", i, name, err)
		return item
	}
	item.Signal = sig
	return item
}

// alertSignal is the signal of a firing alert, its fields checked against
// what the schema and the fingerprint accept.
func (p Parser) alertSignal(a *Alert, whole notification) (*Signal, error) {
	labels := field.NewPath("labels")
	var errs field.ErrorList
	if n := a.Labels["alertname"]; len(n) > v1alpha1.MaxSignalNameLength {
		errs = append(errs, field.TooLong(labels.Key("alertname"), "", v1alpha1.MaxSignalNameLength))
	}
	severity, ok := a.Labels["severity"]
	switch {
	case !ok || severity == "":
		severity = SeverityUnknown
	case len(severity) > v1alpha1.MaxSeverityLength:
		errs = append(errs, field.TooLong(labels.Key("severity"), "", v1alpha1.MaxSeverityLength))
	}
	cluster := p.ClusterID
	if c, ok := a.Labels[ClusterLabel]; ok {
		cluster = c
		errs = append(errs, labelErrors(ClusterLabel, c, dedup.ValidateClusterID)...)
	}
	if err := invalid(errs); err != nil {
		return nil, err
	}
	return &Signal{
		Name:        a.Labels["alertname"],
		Severity:    severity,
		Source:      SourcePrometheus,
		ClusterID:   cluster,
		FiringTime:  a.StartsAt,
		Labels:      a.Labels,
		Annotations: a.Annotations,
		Payload:     whole.text,
	}, nil
}

// fitAlert makes sure the request for the alert sig of msg.Alerts[i] fits:
// with the whole notification as its payload if it can, else with the
// notification narrowed to this one alert (re-encoded, every other field
// as received), so that a large group does not cost its alerts their
// requests. An alert too large even alone is an ErrTooLarge.
func (p Parser) fitAlert(sig *Signal, msg *AlertmanagerMessage, i int, whole notification) error {
	err := p.fit(sig, whole.bytes)
	if err == nil || len(msg.Alerts) == 1 {
		return err
	}
	one := *msg
	one.Alerts = msg.Alerts[i : i+1]
	b, merr := json.Marshal(one)
	if merr != nil {
		// A decoded message always marshals; keep the size error.
		return err
	}
	narrowed := notification{text: string(b)}
	narrowed.bytes = jsonBytes(narrowed.text)
	if err := p.fit(sig, narrowed.bytes); err != nil {
		return err
	}
	sig.Payload = narrowed.text
	return nil
}

// decodeOne decodes exactly one JSON object from body into v.
func decodeOne(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: malformed JSON: %v", ErrInvalid, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: malformed JSON: data after the top-level value", ErrInvalid)
	}
	return nil
}
