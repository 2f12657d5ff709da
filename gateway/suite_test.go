package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/gateway/httpapi"
	"github.com/rrguard/rrguard/gateway/signal"
	"github.com/rrguard/rrguard/test/gatewaytest"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
)

// The suite runs on one control plane with rrguard's real admission webhook
// registered and served over TLS. Namespaces labelled
// webhooktest.UnguardedLabel are out of the webhook's reach, as on a
// cluster without rrguard's webhook: the naive variants run there to show
// what the webhook and the pipeline guard against.
var env *testenv.Env

func TestMain(m *testing.M) {
	webhooktest.Main(m, func(e *testenv.Env, _ *webhooktest.Server) { env = e })
}

// unguardedNamespace makes a namespace the webhook does not guard.
func unguardedNamespace(t testing.TB) string { return webhooktest.UnguardedNamespace(t, env) }

// startGateway starts a gateway replica creating requests in ns, wired as
// cmd/gateway wires it (gatewaytest), until t ends: its own manager,
// clients and connections to the shared API server, without authentication
// unless o says otherwise.
func startGateway(t testing.TB, ns string, o ...gatewaytest.Options) *gatewaytest.Instance {
	t.Helper()
	var opts gatewaytest.Options
	if len(o) > 0 {
		opts = o[0]
	}
	if opts.Config == nil {
		opts.Config = env.Config
	}
	opts.Scheme, opts.Namespace = env.Scheme, ns
	return gatewaytest.StartForTest(t, opts)
}

var httpClient = &http.Client{
	Timeout:   60 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 1024},
}

// response is what a POST got back.
type response struct {
	Code        int
	ContentType string
	Header      http.Header
	Body        []byte
}

func (r response) signal(t testing.TB) httpapi.SignalResponse {
	t.Helper()
	var s httpapi.SignalResponse
	r.decode(t, &s)
	return s
}

func (r response) problem(t testing.TB) httpapi.Problem {
	t.Helper()
	var p httpapi.Problem
	r.decode(t, &p)
	return p
}

// decode decodes the body into v, failing t if it does not decode.
func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode the %d answer %s as %T: %v", r.Code, r.Body, v, err)
	}
}

func post(url, path, contentType string, body []byte, header ...string) (response, error) {
	req, err := http.NewRequest(http.MethodPost, url+path, bytes.NewReader(body))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{Code: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Header: resp.Header, Body: b}, nil
}

// alert is one firing alert about a Deployment.
func alert(ns, deployment string) signal.Alert {
	return signal.Alert{
		Status: signal.AlertFiring,
		Labels: map[string]string{
			"alertname": "KubeDeploymentReplicasMismatch", "severity": "critical",
			"namespace": ns, "deployment": deployment, "job": "kube-state-metrics", "instance": "10.0.0.7:8080",
		},
		Annotations: map[string]string{"summary": "Deployment has not matched the expected number of replicas."},
		StartsAt:    time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC),
		Fingerprint: "b0a7c8b0e9b1c3f2",
	}
}

func alertmanagerPayload(alerts ...signal.Alert) []byte {
	msg := signal.AlertmanagerMessage{
		Version: "4", GroupKey: `{}:{alertname="KubeDeploymentReplicasMismatch"}`, Status: "firing",
		Receiver: "rrguard", GroupLabels: map[string]string{"alertname": "KubeDeploymentReplicasMismatch"},
		ExternalURL: "http://alertmanager.monitoring:9093", Alerts: alerts,
	}
	b, err := json.Marshal(msg)
	if err != nil {
		panic(err)
	}
	return b
}

func fingerprintOf(ns, deployment string) string {
	fp, err := dedup.Fingerprint(dedup.Target{Namespace: ns, Kind: "Deployment", Name: deployment})
	if err != nil {
		panic(err)
	}
	return fp
}

func listRRs(t testing.TB, ns string) []v1alpha1.RemediationRequest {
	t.Helper()
	list := &v1alpha1.RemediationRequestList{}
	listIn(t, ns, list)
	return list.Items
}

// claims returns how many claims (Leases) ns holds.
func claims(t testing.TB, ns string) int {
	t.Helper()
	list := &coordinationv1.LeaseList{}
	listIn(t, ns, list)
	return len(list.Items)
}

// listIn lists the objects of list's kind in ns into list.
func listIn(t testing.TB, ns string, list client.ObjectList) {
	t.Helper()
	if err := env.Client.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
}

// serviceAccountToken returns a token of ServiceAccount sa of ns for
// audiences (none: the API server's own), creating sa the first time.
func serviceAccountToken(t testing.TB, ns, sa string, audiences ...string) string {
	t.Helper()
	return requestToken(t, ns, sa, 3600, audiences...).Status.Token
}

// requestToken asks the API server for a token of ServiceAccount sa of ns
// that lives seconds, for audiences, creating sa the first time.
func requestToken(t testing.TB, ns, sa string, seconds int64, audiences ...string) *authenticationv1.TokenRequest {
	t.Helper()
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(env.Config)
	_, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(seconds), Audiences: audiences},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s: %v", sa, err)
	}
	return tr
}

// grantSignals lets ServiceAccount sa of ns post signals, as
// manifests/gateway's signal-sender ClusterRole does.
func grantSignals(t testing.TB, ns, sa string) {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "rrguard-signal-sender-"},
		Rules:      []rbacv1.PolicyRule{{NonResourceURLs: []string{"/api/v1/signals/*"}, Verbs: []string{"post"}}},
	}
	if err := env.Client.Create(ctx, role); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "rrguard-signal-sender-"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: sa}},
	}
	if err := env.Client.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}
}
