package signal

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

const fp = "90c5375f2830cbd56431459d314af87e810ef05c5eccc4d66b50373682befa9b"

// alertBody is a one-alert Alertmanager notification with labels, starting
// at startsAt (a fixed time when empty).
func alertBody(labels map[string]string, startsAt string) string {
	l, err := json.Marshal(labels)
	if err != nil {
		panic(err)
	}
	if startsAt == "" {
		startsAt = "2026-11-26T04:58:12Z"
	}
	return fmt.Sprintf(`{"version":"4","status":"firing","receiver":"rrguard","alerts":[{"status":"firing","labels":%s,"annotations":{"summary":"s"},"startsAt":%q}]}`, l, startsAt)
}

func parseOne(t *testing.T, p Parser, body string) Item {
	t.Helper()
	am, err := p.Alertmanager([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return am.Items[0]
}

// The spec as kubernaut's gateway fills it, field by field.
func TestTheRequestIsFilledAsKubernautFillsIt(t *testing.T) {
	received := time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC)
	body := alertBody(map[string]string{"alertname": "KubePodCrashLooping", "severity": "critical", "namespace": "payments", "deployment": "api"}, "2026-11-26T04:58:12Z")
	sig := parseOne(t, Parser{}, body).Signal
	if sig == nil {
		t.Fatal("no signal")
	}
	// Package target names the alert's object before the request is built.
	sig.Target = v1alpha1.ResourceIdentifier{Kind: "Deployment", Name: "api", Namespace: "payments", APIVersion: "apps/v1"}
	spec := NewRemediationRequest("kubernaut-system", fp, sig, received).Spec
	if spec.SignalType != "alert" || spec.SignalSource != "prometheus" || spec.TargetType != "kubernetes" || spec.Severity != "critical" {
		t.Errorf("signalType %q signalSource %q targetType %q severity %q, want alert, prometheus, kubernetes, critical",
			spec.SignalType, spec.SignalSource, spec.TargetType, spec.Severity)
	}
	if spec.OriginalPayload != body {
		t.Errorf("originalPayload = %q, want the notification as received", spec.OriginalPayload)
	}
	var pd struct {
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	}
	if err := json.Unmarshal([]byte(spec.ProviderData), &pd); err != nil || pd.Namespace != "payments" || pd.Labels["deployment"] != "api" || len(pd.Labels) != 4 {
		t.Errorf("providerData = %s (%v), want the target's namespace and the labels", spec.ProviderData, err)
	}
	if !spec.FiringTime.Time.Equal(time.Date(2026, 11, 26, 4, 58, 12, 0, time.UTC)) || !spec.ReceivedTime.Time.Equal(received) {
		t.Errorf("firing %s received %s", spec.FiringTime, spec.ReceivedTime)
	}

	// Without a startsAt, the firing time is the received time.
	noStart := parseOne(t, Parser{}, alertBody(map[string]string{"alertname": "A", "namespace": "payments", "deployment": "api"}, "0001-01-01T00:00:00Z")).Signal
	if got := NewRemediationRequest("ns", fp, noStart, received).Spec.FiringTime; !got.Time.Equal(received) {
		t.Errorf("firingTime without startsAt = %s, want the received time %s", got, received)
	}
}

// An alert without a severity label gets "unknown", as in kubernaut; the
// schema would refuse an empty severity and the alert would be lost.
func TestAnAlertWithoutASeverityIsUnknown(t *testing.T) {
	for name, labels := range map[string]map[string]string{
		"no severity label":     {"alertname": "A", "namespace": "payments", "deployment": "api"},
		"an empty severity":     {"alertname": "A", "namespace": "payments", "deployment": "api", "severity": ""},
		"a severity label kept": {"alertname": "A", "namespace": "payments", "deployment": "api", "severity": "P1"},
	} {
		t.Run(name, func(t *testing.T) {
			sig := parseOne(t, Parser{}, alertBody(labels, "2026-11-26T04:58:12Z")).Signal
			want := labels["severity"]
			if want == "" {
				want = SeverityUnknown
			}
			if sig == nil || sig.Severity != want {
				t.Fatalf("signal %+v, want severity %q", sig, want)
			}
			if got := NewRemediationRequest("ns", fp, sig, time.Now()).Spec.Severity; got != want {
				t.Errorf("spec.severity = %q, want %q", got, want)
			}
		})
	}
}

// The alert's cluster label names its cluster; the parser's cluster ID
// (--cluster-id) is for alerts without one and for every event.
func TestTheClusterLabelWinsOverTheConfiguredClusterID(t *testing.T) {
	p := Parser{ClusterID: "hub"}
	base := map[string]string{"alertname": "A", "namespace": "payments", "deployment": "api"}
	labelled := map[string]string{"alertname": "A", "namespace": "payments", "deployment": "api", "cluster": "edge-7"}
	if sig := parseOne(t, p, alertBody(base, "")).Signal; sig == nil || sig.ClusterID != "hub" {
		t.Errorf("unlabelled alert: %+v, want cluster hub", sig)
	}
	sig := parseOne(t, p, alertBody(labelled, "")).Signal
	if sig == nil || sig.ClusterID != "edge-7" {
		t.Fatalf("labelled alert: %+v, want cluster edge-7", sig)
	}
	local := parseOne(t, Parser{}, alertBody(base, "")).Signal
	api := v1alpha1.ResourceIdentifier{Kind: "Deployment", Name: "api", Namespace: "payments", APIVersion: "apps/v1"}
	sig.Target, local.Target = api, api
	a, _ := sig.Fingerprint()
	b, _ := local.Fingerprint()
	if a == b || NewRemediationRequest("ns", a, sig, time.Now()).Spec.ClusterID != "edge-7" {
		t.Errorf("the cluster is not part of the fingerprint and the spec: %s vs %s", a, b)
	}
	ev, err := p.KubernetesEvent([]byte(`{"type":"Warning","reason":"BackOff","involvedObject":{"kind":"Pod","namespace":"p","name":"x"}}`))
	if err != nil || ev.Signal.ClusterID != "hub" {
		t.Errorf("event: %+v %v, want cluster hub", ev.Signal, err)
	}
}

// Bad input is refused with the field named, before anything is written.
func TestAlertsThatCannotFitTheSchemaAreRefusedNamingTheField(t *testing.T) {
	ok := func(extra map[string]string) map[string]string {
		l := map[string]string{"alertname": "A", "namespace": "payments", "deployment": "api"}
		for k, v := range extra {
			l[k] = v
		}
		return l
	}
	tests := map[string]struct {
		labels map[string]string
		field  string
	}{
		"a blank cluster label":    {ok(map[string]string{"cluster": " "}), "labels[cluster]"},
		"an empty cluster label":   {ok(map[string]string{"cluster": ""}), "labels[cluster]"},
		"a cluster label with ':'": {ok(map[string]string{"cluster": "eu:1"}), "labels[cluster]"},
		"a cluster label over 253": {ok(map[string]string{"cluster": strings.Repeat("c", 254)}), "labels[cluster]"},
		"a severity over 50":       {ok(map[string]string{"severity": strings.Repeat("s", 51)}), "labels[severity]"},
		"an alertname over 253":    {ok(map[string]string{"alertname": strings.Repeat("A", 254)}), "labels[alertname]"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			it := parseOne(t, Parser{}, alertBody(tc.labels, ""))
			if it.Signal != nil {
				t.Fatalf("item = %+v, want an error", it)
			}
			wantInvalid(t, it.Err, "alerts[0]", tc.field)
		})
	}
	// At the limits, accepted.
	it := parseOne(t, Parser{}, alertBody(ok(map[string]string{"severity": strings.Repeat("s", 50), "alertname": strings.Repeat("A", 253), "cluster": strings.Repeat("c", 253)}), ""))
	if it.Signal == nil {
		t.Fatalf("an alert at every limit: %v", it.Err)
	}
}

func TestEventsThatCannotFitTheSchemaAreRefusedNamingTheField(t *testing.T) {
	tests := map[string]struct {
		body  string
		field string
	}{
		"a name with a slash":        {`{"type":"Warning","reason":"X","involvedObject":{"kind":"Pod","namespace":"p","name":"a/b"}}`, "involvedObject.name"},
		"a name '..'":                {`{"type":"Warning","reason":"X","involvedObject":{"kind":"Pod","namespace":"p","name":".."}}`, "involvedObject.name"},
		"a bad namespace":            {`{"type":"Warning","reason":"X","involvedObject":{"kind":"Pod","namespace":"P_Q","name":"x"}}`, "involvedObject.namespace"},
		"a bad event namespace":      {`{"metadata":{"namespace":"a:b"},"type":"Warning","reason":"X","involvedObject":{"kind":"Pod","name":"x"}}`, "metadata.namespace"},
		"a lower-case kind":          {`{"type":"Warning","reason":"X","involvedObject":{"kind":"pod","namespace":"p","name":"x"}}`, "involvedObject.kind"},
		"a kind with a ':'":          {`{"type":"Warning","reason":"X","involvedObject":{"kind":"Po:d","namespace":"p","name":"x"}}`, "involvedObject.kind"},
		"an events.k8s.io bad name":  {`{"apiVersion":"events.k8s.io/v1","type":"Warning","reason":"X","regarding":{"kind":"Node","name":"a/b"}}`, "regarding.name"},
		"a reason over 253":          {`{"type":"Warning","reason":"` + strings.Repeat("R", 254) + `","involvedObject":{"kind":"Pod","namespace":"p","name":"x"}}`, "reason"},
		"a name over 253 characters": {`{"type":"Warning","reason":"X","involvedObject":{"kind":"Pod","namespace":"p","name":"` + strings.Repeat("x", 254) + `"}}`, "involvedObject.name"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := parseKubernetesEvent([]byte(tc.body))
			wantInvalid(t, err, tc.field)
		})
	}
}

// Label values are cut at 63 bytes and annotation values at 262000, as
// kubernaut cuts them, never inside a character; the provider data keeps
// the labels whole, as kubernaut's does.
func TestCopiedValuesAreCutAsKubernautCutsThem(t *testing.T) {
	long := strings.Repeat("é", 40) // 80 bytes
	sig := &Signal{
		Name: "A", Severity: "critical", Source: SourcePrometheus,
		Target:      v1alpha1.ResourceIdentifier{Kind: "Deployment", Name: "api", Namespace: "payments"},
		Labels:      map[string]string{"description": long, "short": "ok"},
		Annotations: map[string]string{"runbook": strings.Repeat("r", MaxAnnotationValueBytes+10), "summary": "s"},
	}
	spec := NewRemediationRequest("ns", fp, sig, time.Now()).Spec
	if got := spec.SignalLabels["description"]; len(got) > MaxLabelValueBytes || len(got) < MaxLabelValueBytes-1 || !utf8.ValidString(got) || !strings.HasPrefix(long, got) {
		t.Errorf("cut label = %q (%d bytes), want a valid prefix of at most %d bytes", got, len(got), MaxLabelValueBytes)
	}
	if spec.SignalLabels["short"] != "ok" || sig.Labels["description"] != long {
		t.Error("short values must stay, and the signal's own labels must not change")
	}
	if got := spec.SignalAnnotations["runbook"]; len(got) != MaxAnnotationValueBytes || spec.SignalAnnotations["summary"] != "s" {
		t.Errorf("cut annotation is %d bytes, want %d", len(got), MaxAnnotationValueBytes)
	}
	if !strings.Contains(spec.ProviderData, long) {
		t.Error("providerData must carry the labels uncut")
	}
}

// A notification too large to copy whole into each of its alerts' requests
// is narrowed to the alert; an alert too large alone is ErrTooLarge, and
// its neighbours are not.
func TestARequestThatCannotFitIsRefusedAndItsNeighboursAreNot(t *testing.T) {
	annotations := func(n int) string {
		a := map[string]string{}
		for i := range n {
			a[fmt.Sprintf("note%d", i)] = strings.Repeat("x", 200_000)
		}
		b, _ := json.Marshal(a)
		return string(b)
	}
	alert := func(name, deployment, ann string) string {
		return fmt.Sprintf(`{"status":"firing","labels":{"alertname":%q,"namespace":"payments","deployment":%q},"annotations":%s}`, name, deployment, ann)
	}
	body := `{"version":"4","alerts":[` + alert("Huge", "big", annotations(4)) + `,` + alert("Small", "api", "{}") + `,` + alert("Medium", "web", annotations(2)) + `]}`
	am, err := parseAlertmanager([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	huge, small, medium := am.Items[0], am.Items[1], am.Items[2]
	if huge.Signal != nil || !errors.Is(huge.Err, ErrTooLarge) || !strings.Contains(huge.Err.Error(), "alerts[0]") {
		t.Errorf("huge alert = %+v, want ErrTooLarge naming alerts[0]", huge)
	}
	if small.Signal == nil || medium.Signal == nil {
		t.Fatalf("small %+v, medium %+v: both fit on their own", small, medium)
	}
	// The 1.2 MB notification does not fit; each fitting alert carries
	// the notification narrowed to itself.
	for _, it := range []Item{small, medium} {
		var m AlertmanagerMessage
		if err := json.Unmarshal([]byte(it.Signal.Payload), &m); err != nil || len(m.Alerts) != 1 || m.Alerts[0].Labels["alertname"] != it.AlertName || m.Version != "4" {
			t.Errorf("%s: payload is not the notification narrowed to it: %.120s (%v)", it.AlertName, it.Signal.Payload, err)
		}
		rr := NewRemediationRequest("ns", fp, it.Signal, time.Now())
		b, _ := json.Marshal(rr)
		if len(b) > DefaultMaxObjectBytes {
			t.Errorf("%s: request of %d bytes, over the limit", it.AlertName, len(b))
		}
	}

	if _, err := parseKubernetesEvent([]byte(`{"type":"Warning","reason":"X","message":"` + strings.Repeat("m", DefaultMaxObjectBytes) + `","involvedObject":{"kind":"Pod","namespace":"p","name":"x"}}`)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a 1 MiB event: err = %v, want ErrTooLarge", err)
	}
	// A smaller limit is the parser's to set.
	if it := parseOne(t, Parser{MaxObjectBytes: 20 << 10}, `{"version":"4","alerts":[`+alert("A", "api", `{"a":"`+strings.Repeat("x", 8<<10)+`"}`)+`]}`); !errors.Is(it.Err, ErrTooLarge) {
		t.Errorf("an alert over a 20 KiB limit: %+v, want ErrTooLarge", it)
	}
}

func TestParserValidateRefusesWhatCannotWork(t *testing.T) {
	for _, p := range []Parser{{ClusterID: " "}, {ClusterID: "eu:1"}, {ClusterID: strings.Repeat("c", 254)}, {MaxObjectBytes: -1}} {
		if err := p.Validate(); err == nil {
			t.Errorf("%+v: no error", p)
		}
	}
	for _, p := range []Parser{{}, {ClusterID: "edge-eu-1", MaxObjectBytes: 512 << 10}} {
		if err := p.Validate(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
}
