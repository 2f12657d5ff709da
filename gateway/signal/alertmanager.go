package signal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
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

// ParseAlertmanager decodes and validates an Alertmanager webhook payload.
// An error (wrapping ErrInvalid) means the payload as a whole is unusable:
// not JSON, not one object, not version 4, or without alerts. Problems of a
// single alert are reported on its Item instead, so that one bad alert does
// not cost the others. Each firing alert's Target is taken from its labels;
// no Pod is climbed here.
func ParseAlertmanager(body []byte) (*Alertmanager, error) {
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
	am := &Alertmanager{Message: msg, Items: make([]Item, len(msg.Alerts))}
	for i := range msg.Alerts {
		am.Items[i] = alertItem(&msg, i)
	}
	return am, nil
}

func alertItem(msg *AlertmanagerMessage, i int) Item {
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
	target, err := TargetFromLabels(a.Labels)
	if err != nil {
		item.Err = fmt.Errorf("alerts[%d] (%s): %w", i, name, err)
		return item
	}
	payload, err := json.Marshal(a)
	if err != nil {
		// A decoded alert always marshals; keep the error rather than
		// drop the alert if that ever changes.
		item.Err = fmt.Errorf("alerts[%d] (%s): encode payload: %w", i, name, err)
		return item
	}
	item.Signal = &Signal{
		Name:        name,
		Severity:    a.Labels["severity"],
		Type:        TypePrometheus,
		Source:      msg.Receiver,
		Target:      target,
		FiringTime:  a.StartsAt,
		Labels:      a.Labels,
		Annotations: a.Annotations,
		Payload:     payload,
	}
	return item
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
