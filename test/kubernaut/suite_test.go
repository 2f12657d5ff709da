package kubernaut_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/test/gatewaytest"
	"github.com/rrguard/rrguard/test/load"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
)

// The suite's control plane has kubernaut's CRD installed, not rrguard's,
// and rrguard's webhook registered and served, as on a kubernaut cluster
// with rrguard dropped in.
var env *testenv.Env

func TestMain(m *testing.M) {
	webhooktest.Main(m, func(e *testenv.Env, _ *webhooktest.Server) { env = e }, testenv.Options{CRDPath: testenv.KubernautCRDPath()})
}

// startGateway starts a gateway replica as cmd/gateway runs it in every
// kustomize variant: webhook-guarded.
func startGateway(t *testing.T, ns string) *gatewaytest.Instance {
	t.Helper()
	return gatewaytest.StartForTest(t, gatewaytest.Options{Config: env.Config, Scheme: env.Scheme, Namespace: ns, WebhookGuarded: true})
}

var httpClient = &http.Client{
	Timeout:   60 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxIdleConns: 256},
}

// send posts one Alertmanager alert about target to the gateway at url.
func send(t *testing.T, url string, target load.Target) load.Response {
	t.Helper()
	return load.Send(context.Background(), httpClient, url, "", target, load.Payload(target))
}

// mustSend is send, failing the test unless the answer has code.
func mustSend(t *testing.T, url string, target load.Target, code int) load.Response {
	t.Helper()
	r := send(t, url, target)
	if r.Code != code || r.Err != nil {
		t.Fatalf("signal about %s answered %d (%v), want %d", target.Deployment, r.Code, r.Err, code)
	}
	return r
}

// orchestrate writes status fields of ns/name as kubernaut's orchestrator
// does, and returns the whole status as stored after the write.
func orchestrate(t *testing.T, ns, name string, fields map[string]any) map[string]any {
	t.Helper()
	if err := testenv.SetStatus(context.Background(), env.Client, ns, name, fields); err != nil {
		t.Fatal(err)
	}
	return status(t, ns, name)
}

// status reads the status of ns/name as stored, every field of it,
// whether rrguard's types declare it or not.
func status(t *testing.T, ns, name string) map[string]any {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("RemediationRequest"))
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
		t.Fatal(err)
	}
	s, _, err := unstructured.NestedMap(u.Object, "status")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// withoutDeduplication returns status without the one field the gateway
// owns, as JSON: what another owner wrote, byte for byte.
func withoutDeduplication(t *testing.T, status map[string]any) string {
	t.Helper()
	rest := map[string]any{}
	for k, v := range status {
		if k != "deduplication" {
			rest[k] = v
		}
	}
	b, err := json.Marshal(rest)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// occurrences reads status.deduplication.occurrenceCount of ns/name.
func occurrences(t *testing.T, ns, name string) int64 {
	t.Helper()
	n, _, err := unstructured.NestedInt64(status(t, ns, name), "deduplication", "occurrenceCount")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// stamp formats t as a status time.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
