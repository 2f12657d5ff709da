package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/certs"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/gateway"
	"github.com/rrguard/rrguard/gateway/httpapi"
	"github.com/rrguard/rrguard/test/gatewaytest"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
)

// The test runs as on a cluster with rrguard installed: one control plane
// with rrguard's webhook registered and served, the gateway as cmd/gateway
// runs it, and a real Alertmanager sending to it.
var env *testenv.Env

func TestMain(m *testing.M) {
	webhooktest.Main(m, func(e *testenv.Env, _ *webhooktest.Server) { env = e })
}

// alertmanagerBinary returns the Alertmanager built from source at the
// version tools/alertmanager pins, building it into bin/ once (about four
// minutes cold on two cores; `make testbin` is the place to do it ahead).
func alertmanagerBinary(t *testing.T) string {
	t.Helper()
	toolsDir := filepath.Join(testenv.RepoRoot(), "tools", "alertmanager")
	gomod, err := os.ReadFile(filepath.Join(toolsDir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var version string
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "require" && f[1] == "github.com/prometheus/alertmanager" {
			version = f[2]
		}
	}
	if version == "" {
		t.Fatal("tools/alertmanager/go.mod pins no github.com/prometheus/alertmanager")
	}
	dir := filepath.Join(testenv.RepoRoot(), "bin", "alertmanager-"+version)
	bin := filepath.Join(dir, "alertmanager")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	t.Logf("building Alertmanager %s from source into %s (once)", version, dir)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".alertmanager-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	args := []string{"go", "build", "-trimpath", "-o", tmp + "/",
		"github.com/prometheus/alertmanager/cmd/alertmanager", "github.com/prometheus/alertmanager/cmd/amtool"}
	if nice, err := exec.LookPath("nice"); err == nil {
		// Other packages' tests run meanwhile; let them have the CPU first.
		args = append([]string{nice, "-n", "19"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = toolsDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build Alertmanager: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, dir); err != nil && !os.IsExist(err) {
		if _, statErr := os.Stat(bin); statErr != nil {
			t.Fatalf("install Alertmanager: %v", err)
		}
	}
	return bin
}

// gatewayServer is the gateway as a sender sees it.
type gatewayServer struct {
	// URL is https://127.0.0.1:<port>.
	URL string
	// CAFile verifies the gateway's certificate: the ca.crt that certs'
	// self-signed mode writes beside the serving pair.
	CAFile string
	// Client trusts CAFile.
	Client  *http.Client
	Metrics *prometheus.Registry
}

// startGateway serves rrguard's gateway over TLS, wired as cmd/gateway
// wires it (gatewaytest), its certificate from certs' self-signed mode (a CA
// in a Secret of ns, the pair and the CA in a cert directory), with
// TokenReview authentication for the default audience, creating
// RemediationRequests in ns.
func startGateway(t *testing.T, ns string) gatewayServer {
	t.Helper()
	co := gateway.CertOptions()
	co.Mode, co.CertDir, co.Namespace = certs.ModeSelfSigned, t.TempDir(), ns
	co.ExtraIPs = []net.IP{net.ParseIP("127.0.0.1")}
	audit := &testenv.Buffer{}
	gw := gatewaytest.StartForTest(t, gatewaytest.Options{
		Config: env.Config, Scheme: env.Scheme, Namespace: ns, Auth: gateway.AuthTokenReview,
		Certs: &co, Audit: audit, Log: testr.New(t),
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the gateway's audit log:\n%s", audit)
		}
	})
	caFile := filepath.Join(co.CertDir, certs.CACertFile)
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return gatewayServer{URL: gw.URL, CAFile: caFile, Client: client, Metrics: gw.Registry}
}

// senderToken makes Alertmanager's ServiceAccount, binds it rrguard's
// signal-sender ClusterRole as manifests/gateway ships it (what
// manifests/examples/alertmanager does), and writes a token for it to a
// file: the token a projected volume with audience rrguard-gateway holds
// (manifests/examples/alertmanager/alertmanager_volumes.yaml). It also
// returns the same ServiceAccount's token for the API server's audience.
func senderToken(t *testing.T) (file, clusterToken string) {
	t.Helper()
	ctx := context.Background()
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "manifests", "gateway", "signal_sender_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(raw, role); err != nil {
		t.Fatal(err)
	}
	role.Name = "rrguard-signal-sender"
	monitoring := env.Namespace(t)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: monitoring, Name: "alertmanager"}}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "rrguard-e2e-alertmanager"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: monitoring, Name: sa.Name}},
	}
	for _, obj := range []client.Object{role, sa, binding} {
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatalf("create %T: %v", obj, err)
		}
	}
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(tokenFor(t, monitoring, sa.Name, httpapi.DefaultAudience)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, tokenFor(t, monitoring, sa.Name)
}

// tokenFor requests a token of ServiceAccount ns/sa for audiences (none:
// the API server's own).
func tokenFor(t *testing.T, ns, sa string, audiences ...string) string {
	t.Helper()
	tr, err := kubernetes.NewForConfigOrDie(env.Config).CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), sa,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600), Audiences: audiences}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("request a token for %s/%s: %v", ns, sa, err)
	}
	return tr.Status.Token
}

// unboundToken is a valid token, for the gateway's audience, of a
// ServiceAccount that may not post signals.
func unboundToken(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	ns := env.Namespace(t)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "grafana"}}
	if err := env.Client.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	return tokenFor(t, ns, sa.Name, httpapi.DefaultAudience)
}

// startAlertmanager runs Alertmanager on manifests/examples/alertmanager's
// receiver configuration, pointed at the gateway instead of its Service,
// with the token and CA files where the example mounts them, and short
// group timings; it returns Alertmanager's URL.
func startAlertmanager(t *testing.T, bin string, gw gatewayServer, tokenFile string) string {
	t.Helper()
	dir := t.TempDir()
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "manifests", "examples", "alertmanager", "alertmanager.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var config map[string]any
	if err := yaml.Unmarshal(raw, &config); err != nil {
		t.Fatal(err)
	}
	route := config["route"].(map[string]any)
	route["group_wait"], route["group_interval"], route["repeat_interval"] = "1s", "2s", "3s"
	webhook := config["receivers"].([]any)[0].(map[string]any)["webhook_configs"].([]any)[0].(map[string]any)
	webhook["url"] = gw.URL + httpapi.PrometheusPath
	httpConfig := webhook["http_config"].(map[string]any)
	httpConfig["authorization"].(map[string]any)["credentials_file"] = tokenFile
	httpConfig["tls_config"].(map[string]any)["ca_file"] = gw.CAFile
	written, err := yaml.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), written, 0o600); err != nil {
		t.Fatal(err)
	}
	addr := testenv.MustFreeAddr(t)
	out := &testenv.Buffer{}
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "alertmanager.yml"), "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=debug")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("Alertmanager's log:\n%s", out.String())
		}
	})
	url := "http://" + addr
	eventually(t, 20*time.Second, "Alertmanager ready", func() (bool, string) {
		resp, err := http.Get(url + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return url
}

// amAlert is an alert as Alertmanager's API v2 takes it.
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt,omitempty"`
}

func deploymentAlert(deployment string, startsAt time.Time) amAlert {
	return amAlert{
		Labels: map[string]string{
			"alertname": "KubeDeploymentReplicasMismatch", "severity": "critical", "namespace": "shop",
			"deployment": deployment, "job": "kube-state-metrics", "instance": "10.0.0.7:8080",
		},
		Annotations: map[string]string{"summary": "Deployment " + deployment + " has not matched its replicas."},
		StartsAt:    startsAt,
		EndsAt:      startsAt.Add(time.Hour),
	}
}

func pushAlerts(t *testing.T, alertmanagerURL string, alerts ...amAlert) {
	t.Helper()
	body, err := json.Marshal(alerts)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(alertmanagerURL+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("push alerts: %s", resp.Status)
	}
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
	}
	t.Fatalf("%s: not within %s; last: %s", what, timeout, last)
}

// rrsByFingerprint lists the RemediationRequests in ns by fingerprint.
func rrsByFingerprint(t *testing.T, ns string) map[string][]v1alpha1.RemediationRequest {
	t.Helper()
	list := &v1alpha1.RemediationRequestList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := map[string][]v1alpha1.RemediationRequest{}
	for _, rr := range list.Items {
		out[rr.Spec.SignalFingerprint] = append(out[rr.Spec.SignalFingerprint], rr)
	}
	return out
}

func signalsCounted(t *testing.T, reg *prometheus.Registry, outcome string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, f := range families {
		if f.GetName() != "rrguard_gateway_signals_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

func fingerprint(t *testing.T, deployment string) string {
	t.Helper()
	fp, err := dedup.Fingerprint(dedup.Target{Namespace: "shop", Kind: "Deployment", Name: deployment})
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// A real Alertmanager, a real token, a real API server: Alertmanager
// notifies the gateway over TLS, verified with the gateway's CA, with a
// token bound to the gateway's audience, on the example receiver
// configuration; one RR per incident, repeated notifications counted on
// it, a second workload its own RR, and a resolved alert creating nothing.
func TestAlertmanagerNotificationsBecomeOneRemediationRequestPerIncident(t *testing.T) {
	bin := alertmanagerBinary(t)
	ns := env.Namespace(t)
	gw := startGateway(t, ns)
	metrics := gw.Metrics
	tokenFile, clusterToken := senderToken(t)

	// The gateway serves only TLS, and really checks the token: none is
	// 401, the sender's own token for the API server's audience (a cluster
	// credential) is 401, and a token whose owner may not post signals is
	// 403.
	// Go's TLS server answers a plain HTTP request 400 and serves nothing.
	resp, err := http.Post("http://"+strings.TrimPrefix(gw.URL, "https://")+httpapi.PrometheusPath, "application/json", strings.NewReader("{}"))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the signal API: %s, want 400 (TLS only)", resp.Status)
		}
	}
	for _, tc := range []struct {
		what, token string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"the sender's token for the API server", clusterToken, http.StatusUnauthorized},
		{"a token of a ServiceAccount without the grant", unboundToken(t), http.StatusForbidden},
	} {
		req, _ := http.NewRequest(http.MethodPost, gw.URL+httpapi.PrometheusPath, strings.NewReader(`{"version":"4","alerts":[]}`))
		req.Header.Set("Content-Type", "application/json")
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := gw.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("post with %s: %s, want %d", tc.what, resp.Status, tc.want)
		}
	}

	refusedBefore := signalsCounted(t, metrics, "rejected") + signalsCounted(t, metrics, "failed")

	am := startAlertmanager(t, bin, gw, tokenFile)
	api, worker := fingerprint(t, "api"), fingerprint(t, "worker")
	started := time.Now().Add(-time.Minute).Truncate(time.Second)

	pushAlerts(t, am, deploymentAlert("api", started))
	eventually(t, 30*time.Second, "an RR for the firing alert", func() (bool, string) {
		rrs := rrsByFingerprint(t, ns)
		return len(rrs[api]) == 1, fmt.Sprintf("%d RRs for api", len(rrs[api]))
	})
	eventually(t, 40*time.Second, "repeated notifications counted on the same RR", func() (bool, string) {
		rrs := rrsByFingerprint(t, ns)
		if len(rrs) != 1 || len(rrs[api]) != 1 {
			t.Fatalf("RRs by fingerprint: %v; want exactly one, for api", rrs)
		}
		n := rrs[api][0].Status.GetDeduplication().OccurrenceCount
		return n >= 3, fmt.Sprintf("occurrenceCount %d", n)
	})

	pushAlerts(t, am, deploymentAlert("worker", started))
	eventually(t, 30*time.Second, "a second workload gets its own RR", func() (bool, string) {
		rrs := rrsByFingerprint(t, ns)
		return len(rrs[worker]) == 1, fmt.Sprintf("%d RRs for worker", len(rrs[worker]))
	})

	// Resolve api's alert: Alertmanager sends it resolved (send_resolved),
	// the gateway ignores it, and api's incident stops being counted.
	resolved := deploymentAlert("api", started)
	resolved.EndsAt = time.Now().Add(-time.Second)
	ignoredBefore := signalsCounted(t, metrics, "ignored")
	pushAlerts(t, am, resolved)
	eventually(t, 30*time.Second, "the resolved alert reaches the gateway and is ignored", func() (bool, string) {
		n := signalsCounted(t, metrics, "ignored")
		return n > ignoredBefore, fmt.Sprintf("%v ignored signals", n)
	})
	apiCount := rrsByFingerprint(t, ns)[api][0].Status.GetDeduplication().OccurrenceCount
	workerCount := rrsByFingerprint(t, ns)[worker][0].Status.GetDeduplication().OccurrenceCount
	eventually(t, 30*time.Second, "worker, still firing, counted again", func() (bool, string) {
		n := rrsByFingerprint(t, ns)[worker][0].Status.GetDeduplication().OccurrenceCount
		return n >= workerCount+2, fmt.Sprintf("worker occurrenceCount %d (was %d)", n, workerCount)
	})
	rrs := rrsByFingerprint(t, ns)
	if len(rrs) != 2 || len(rrs[api]) != 1 || len(rrs[worker]) != 1 {
		t.Errorf("RRs by fingerprint after resolution: %v; want one for api and one for worker", rrs)
	}
	if n := rrs[api][0].Status.GetDeduplication().OccurrenceCount; n != apiCount {
		t.Errorf("api's occurrenceCount went from %d to %d after its alert resolved", apiCount, n)
	}
	if refused := signalsCounted(t, metrics, "rejected") + signalsCounted(t, metrics, "failed"); refused != refusedBefore {
		t.Errorf("%v of Alertmanager's signals rejected or failed", refused-refusedBefore)
	}
}
