package signal

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
)

// checkItem holds every Item to the parser's contract: exactly one of
// Signal, Ignored and Err; errors wrap ErrInvalid; a signal can be
// fingerprinted and its payload is JSON.
func checkItem(t *testing.T, i int, it Item) {
	t.Helper()
	set := 0
	if it.Signal != nil {
		set++
	}
	if it.Ignored != "" {
		set++
	}
	if it.Err != nil {
		set++
	}
	if set != 1 {
		t.Fatalf("item %d = %+v: want exactly one of Signal, Ignored, Err", i, it)
	}
	if it.Err != nil && !errors.Is(it.Err, ErrInvalid) {
		t.Fatalf("item %d error %v does not wrap ErrInvalid", i, it.Err)
	}
	if s := it.Signal; s != nil {
		if s.Target.Kind == "" {
			// An alert's object is named by package target, from
			// labels it validates; stand in the longest it can name.
			s.Target = longestTarget
		}
		fp, err := s.Fingerprint()
		if err != nil || !dedup.ValidFingerprint(fp) {
			t.Fatalf("item %d signal %+v has no valid fingerprint: %q %v", i, s, fp, err)
		}
		if s.Name == "" {
			t.Fatalf("item %d signal has no name", i)
		}
		if !json.Valid([]byte(s.Payload)) {
			t.Fatalf("item %d payload is not JSON: %q", i, s.Payload)
		}
		checkRequest(t, i, NewRemediationRequest("rrguard-system", fp, s, time.Now()))
	}
}

// longestTarget is the largest target package target can name.
var longestTarget = v1alpha1.ResourceIdentifier{
	Kind: "K" + strings.Repeat("k", 62), Name: strings.Repeat("n", dedup.MaxNameLength),
	Namespace: strings.Repeat("s", 63), APIVersion: strings.Repeat("g", 253) + "/v1",
}

// checkRequest holds a request built from a parsed signal to what the
// schema accepts and to the size limit: whatever the parser lets through,
// the API server must not refuse as invalid or too large.
func checkRequest(t *testing.T, i int, rr *v1alpha1.RemediationRequest) {
	t.Helper()
	spec := rr.Spec
	switch {
	case spec.Severity == "" || len(spec.Severity) > v1alpha1.MaxSeverityLength:
		t.Fatalf("item %d: severity %q outside 1..%d bytes", i, spec.Severity, v1alpha1.MaxSeverityLength)
	case len(spec.SignalName) > v1alpha1.MaxSignalNameLength:
		t.Fatalf("item %d: signalName of %d bytes", i, len(spec.SignalName))
	case len(spec.SignalSource) > v1alpha1.MaxSignalSourceLength:
		t.Fatalf("item %d: signalSource %q", i, spec.SignalSource)
	case spec.ClusterID != "" && len(dedup.ValidateClusterID(spec.ClusterID)) > 0:
		t.Fatalf("item %d: clusterID %q", i, spec.ClusterID)
	case spec.SignalType != SignalTypeAlert || spec.TargetType != v1alpha1.TargetTypeKubernetes:
		t.Fatalf("item %d: signalType %q targetType %q", i, spec.SignalType, spec.TargetType)
	case spec.FiringTime.IsZero() || spec.ReceivedTime.IsZero():
		t.Fatalf("item %d: firing %v received %v", i, spec.FiringTime, spec.ReceivedTime)
	case !json.Valid([]byte(spec.ProviderData)):
		t.Fatalf("item %d: providerData is not JSON: %q", i, spec.ProviderData)
	}
	for k, v := range spec.SignalLabels {
		if len(v) > MaxLabelValueBytes {
			t.Fatalf("item %d: label %s of %d bytes", i, k, len(v))
		}
	}
	b, err := json.Marshal(rr)
	if err != nil || len(b) > DefaultMaxObjectBytes {
		t.Fatalf("item %d: request of %d bytes (%v), over %d", i, len(b), err, DefaultMaxObjectBytes)
	}
}

func FuzzParseAlertmanager(f *testing.F) {
	f.Add([]byte(`{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"A","deployment":"d","namespace":"n"}}]}`))
	f.Add([]byte(`{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"A","severity":"P1","cluster":"edge-7","node":"w1"},"annotations":{"a":"<b>"}},{"status":"firing","labels":{"alertname":"B","pod":"p:q","namespace":"n"}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		am, err := parseAlertmanager(body)
		if err != nil {
			if !errors.Is(err, ErrInvalid) || am != nil {
				t.Fatalf("parseAlertmanager = %v, %v: an error must wrap ErrInvalid and come alone", am, err)
			}
			return
		}
		if am.Message.Version != AlertmanagerVersion || len(am.Items) == 0 || len(am.Items) != len(am.Message.Alerts) {
			t.Fatalf("accepted version %q with %d items for %d alerts", am.Message.Version, len(am.Items), len(am.Message.Alerts))
		}
		for i, it := range am.Items {
			checkItem(t, i, it)
		}
	})
}

func FuzzParseKubernetesEvent(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"v1","kind":"Event","type":"Warning","reason":"BackOff","involvedObject":{"kind":"Pod","namespace":"p","name":"x"}}`))
	f.Add([]byte(`{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"namespace":"p"},"type":"Warning","reason":"R","note":"n","regarding":{"kind":"ClusterRole","name":"system:x"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		it, err := parseKubernetesEvent(body)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		checkItem(t, 0, it)
	})
}
