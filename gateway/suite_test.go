package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlzap "sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/gateway"
	"github.com/rrguard/rrguard/gateway/httpapi"
	"github.com/rrguard/rrguard/gateway/signal"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
)

// The suite runs on one control plane with rrguard's real admission webhook
// registered and served over TLS. Namespaces labelled webhooktest.UnguardedLabel are left
// out of the webhook's reach, as on a cluster without rrguard's webhook: the
// naive variants run there to show what the webhook and the pipeline guard
// against.
var (
	env  *testenv.Env
	hook *webhooktest.Server
)

func TestMain(m *testing.M) {
	webhooktest.Main(m, func(e *testenv.Env, h *webhooktest.Server) { env, hook = e, h })
}

// unguardedNamespace makes a namespace the webhook does not guard.
func unguardedNamespace(t testing.TB) string { return webhooktest.UnguardedNamespace(t, env) }

// instance is one gateway: its own manager, clients and connections to the
// shared API server, serving the signal API on a local port.
type instance struct {
	URL   string
	audit *testenv.Buffer
	// stop stops the manager (a SIGTERM) and waits for it to return.
	stop func() error
}

type instanceOptions struct {
	auth         string
	maxBodyBytes int64
	reader       client.Reader
	// wrap, when set, wraps the instance's transport to the API server.
	wrap func(http.RoundTripper) http.RoundTripper
}

func startGateway(t testing.TB, ns string, io ...instanceOptions) *instance {
	t.Helper()
	var o instanceOptions
	if len(io) > 0 {
		o = io[0]
	}
	if o.auth == "" {
		o.auth = gateway.AuthNone
	}
	// A config of its own: its own HTTP transport, as a separate process.
	cfg := rest.CopyConfig(env.Config)
	cfg.WrapTransport = o.wrap
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 env.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Logger:                 logr.Discard(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	audit := &testenv.Buffer{}
	err = gateway.Setup(mgr, gateway.Options{
		Listener:     ln,
		Namespace:    ns,
		Auth:         o.auth,
		MaxBodyBytes: o.maxBodyBytes,
		Reader:       o.reader,
		Registerer:   prometheus.NewRegistry(),
		Log:          logr.Discard(),
		Audit:        ctrlzap.New(ctrlzap.WriteTo(audit), ctrlzap.JSONEncoder()).WithName("audit"),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			stopErr = <-done
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("gateway manager: %v", err)
		}
	})
	in := &instance{URL: "http://" + ln.Addr().String(), audit: audit, stop: stop}
	waitServing(t, in.URL)
	return in
}

func waitServing(t testing.TB, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url + "/")
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway at %s did not serve: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
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
	if err := json.Unmarshal(r.Body, &s); err != nil {
		t.Fatalf("decode response %d %s: %v", r.Code, r.Body, err)
	}
	return s
}

func (r response) problem(t testing.TB) httpapi.Problem {
	t.Helper()
	var p httpapi.Problem
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("decode problem %d %s: %v", r.Code, r.Body, err)
	}
	return p
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
	if err := env.Client.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func listLeases(t testing.TB, ns string) []coordinationv1.Lease {
	t.Helper()
	list := &coordinationv1.LeaseList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func setPhase(t testing.TB, ns, name string, phase v1alpha1.Phase) {
	t.Helper()
	if err := testenv.SetPhase(context.Background(), env.Client, ns, name, phase); err != nil {
		t.Fatal(err)
	}
}

// serviceAccountToken returns a token of ServiceAccount sa of ns for
// audiences (none: the API server's own), creating sa the first time.
func serviceAccountToken(t testing.TB, ns, sa string, audiences ...string) string {
	t.Helper()
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(env.Config)
	_, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600), Audiences: audiences},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s: %v", sa, err)
	}
	return tr.Status.Token
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
