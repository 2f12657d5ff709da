package signal

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

func TestParseAlertmanagerReadsEveryFieldOfAVersion4Payload(t *testing.T) {
	body, err := os.ReadFile("testdata/alertmanager-v4.json")
	if err != nil {
		t.Fatal(err)
	}
	am, err := parseAlertmanager(body)
	if err != nil {
		t.Fatal(err)
	}
	m := am.Message
	if m.Version != "4" || m.TruncatedAlerts != 2 || m.Receiver != "rrguard" || m.Status != "firing" ||
		m.GroupKey == "" || m.ExternalURL == "" || m.GroupLabels["alertname"] != "KubePodCrashLooping" ||
		m.CommonLabels["severity"] != "critical" || m.CommonAnnotations["runbook_url"] == "" {
		t.Errorf("message fields not all read: %+v", m)
	}
	if len(am.Items) != 4 {
		t.Fatalf("%d items, want 4", len(am.Items))
	}

	crash := am.Items[0].Signal
	if crash == nil {
		t.Fatalf("item 0 = %+v, want a signal", am.Items[0])
	}
	if crash.Target != (v1alpha1.ResourceIdentifier{}) || crash.Labels["exported_namespace"] != "payments" || crash.Name != "KubePodCrashLooping" || crash.Severity != "critical" ||
		crash.Source != SourcePrometheus || crash.ClusterID != "" ||
		!crash.FiringTime.Equal(time.Date(2026, 11, 26, 4, 58, 12, 345e6, time.UTC)) ||
		crash.Annotations["summary"] != "Pod is crash looping." || crash.Labels["container"] != "api" {
		t.Errorf("signal 0 = %+v", crash)
	}
	// Every alert's payload is the notification as received, byte for byte.
	for i, it := range am.Items {
		if it.Signal != nil && it.Signal.Payload != string(body) {
			t.Errorf("payload of signal %d is not the notification as received: %.80q", i, it.Signal.Payload)
		}
	}

	if it := am.Items[1]; it.Signal != nil || it.Ignored == "" || it.Err != nil || it.AlertName != "KubePodCrashLooping" {
		t.Errorf("item 1 (resolved) = %+v, want ignored", it)
	}
	if s := am.Items[2].Signal; s == nil || s.Labels["node"] != "worker-3" {
		t.Errorf("item 2 = %+v, want a signal labelled node worker-3", am.Items[2])
	}
	// Which object an alert is about is package target's to find: one
	// with only scrape labels is a signal too.
	if it := am.Items[3]; it.Signal == nil || it.Err != nil {
		t.Errorf("item 3 (only scrape labels) = %+v, want a signal", it)
	}
}

func TestParseAlertmanagerRefusesUnusablePayloads(t *testing.T) {
	tests := map[string]struct {
		body string
		want string
	}{
		"not JSON":              {body: `version: 4`, want: "malformed JSON"},
		"truncated JSON":        {body: `{"version":"4","alerts":[{}`, want: "malformed JSON"},
		"an array":              {body: `[{"version":"4"}]`, want: "malformed JSON"},
		"two objects":           {body: `{"version":"4","alerts":[{}]} {}`, want: "data after"},
		"null":                  {body: `null`, want: "version"},
		"version 3":             {body: `{"version":"3","alerts":[{"status":"firing"}]}`, want: `version "3"`},
		"a numeric version":     {body: `{"version":4,"alerts":[]}`, want: "malformed JSON"},
		"no version":            {body: `{"alerts":[{"status":"firing"}]}`, want: `version ""`},
		"no alerts":             {body: `{"version":"4","alerts":[]}`, want: "no alerts"},
		"alerts missing":        {body: `{"version":"4"}`, want: "no alerts"},
		"a label of wrong type": {body: `{"version":"4","alerts":[{"labels":{"a":1}}]}`, want: "malformed JSON"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := parseAlertmanager([]byte(tc.body))
			wantInvalid(t, err, tc.want)
		})
	}
}

func TestAlertsWithProblemsAreReportedOneByOne(t *testing.T) {
	body := `{"version":"4","alerts":[
		{"status":"pending","labels":{"alertname":"A","deployment":"x","namespace":"n"}},
		{"status":"firing","labels":{"deployment":"x","namespace":"n"}},
		{"status":"firing","labels":{"alertname":"C","deployment":"x","namespace":"n"}}]}`
	am, err := parseAlertmanager([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{`status "pending"`, "no alertname", ""} {
		it := am.Items[i]
		if want == "" {
			if it.Signal == nil || it.Err != nil {
				t.Errorf("item %d = %+v, want a signal", i, it)
			}
			continue
		}
		wantInvalid(t, it.Err, want)
	}
}

func TestParseKubernetesEvent(t *testing.T) {
	tests := map[string]struct {
		body    string
		want    *v1alpha1.ResourceIdentifier
		reason  string
		ignored bool
		wantErr string
	}{
		"a core/v1 Warning about a Pod": {
			body:   `{"apiVersion":"v1","kind":"Event","metadata":{"namespace":"payments","name":"api.1"},"type":"Warning","reason":"BackOff","message":"Back-off restarting failed container","involvedObject":{"kind":"Pod","namespace":"payments","name":"api-1","apiVersion":"v1"},"source":{"component":"kubelet"},"firstTimestamp":"2026-11-26T04:00:00Z"}`,
			want:   &v1alpha1.ResourceIdentifier{Kind: "Pod", Name: "api-1", Namespace: "payments", APIVersion: "v1"},
			reason: "BackOff",
		},
		"a core/v1 event without apiVersion, as exporters send it": {
			body:   `{"metadata":{"namespace":"payments"},"type":"Warning","reason":"FailedMount","involvedObject":{"kind":"Pod","name":"api-1"}}`,
			want:   &v1alpha1.ResourceIdentifier{Kind: "Pod", Name: "api-1", Namespace: "payments"},
			reason: "FailedMount",
		},
		"an events.k8s.io/v1 Warning about a Node": {
			body:   `{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"namespace":"default"},"type":"Warning","reason":"NodeNotReady","note":"Node is not ready","regarding":{"kind":"Node","name":"worker-1","namespace":"default"},"reportingController":"node-controller","eventTime":"2026-11-26T04:00:00.000000Z"}`,
			want:   &v1alpha1.ResourceIdentifier{Kind: "Node", Name: "worker-1"},
			reason: "NodeNotReady",
		},
		"a Normal event is ignored": {
			body:    `{"apiVersion":"v1","kind":"Event","type":"Normal","reason":"Pulled","involvedObject":{"kind":"Pod","namespace":"p","name":"x"}}`,
			ignored: true,
		},
		"another kind":       {body: `{"apiVersion":"v1","kind":"Pod"}`, wantErr: `kind "Pod"`},
		"another apiVersion": {body: `{"apiVersion":"apps/v1","kind":"Event"}`, wantErr: `apiVersion "apps/v1"`},
		"an unknown type":    {body: `{"type":"Critical","reason":"X","involvedObject":{"kind":"Pod","name":"x"}}`, wantErr: `type "Critical"`},
		"no reason":          {body: `{"type":"Warning","involvedObject":{"kind":"Pod","name":"x"}}`, wantErr: "no reason"},
		"no object":          {body: `{"type":"Warning","reason":"X"}`, wantErr: "involvedObject needs"},
		"an events.k8s.io event without regarding": {body: `{"apiVersion":"events.k8s.io/v1","type":"Warning","reason":"X"}`, wantErr: "regarding needs"},
		"malformed":                 {body: `{"type":`, wantErr: "malformed JSON"},
		"a field of the wrong type": {body: `{"type":"Warning","reason":"X","count":"many","involvedObject":{"kind":"Pod","name":"x"}}`, wantErr: "malformed JSON"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			item, err := parseKubernetesEvent([]byte(tc.body))
			if tc.wantErr != "" {
				wantInvalid(t, err, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.ignored {
				if item.Signal != nil || item.Ignored == "" {
					t.Errorf("item = %+v, want ignored", item)
				}
				return
			}
			s := item.Signal
			if s == nil || s.Target != *tc.want || s.Name != tc.reason || s.Source != SourceKubernetesEvents || s.Severity != "Warning" || s.Payload != tc.body {
				t.Errorf("signal = %+v, want about %+v with reason %s", s, tc.want, tc.reason)
			}
		})
	}
}

// wantInvalid fails t unless err is ErrInvalid and mentions each of want.
func wantInvalid(t *testing.T, err error, want ...string) {
	t.Helper()
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error = %v, want ErrInvalid", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error = %v, want one mentioning %q", err, w)
		}
	}
}
