//go:build kubernautcheck

package kubernautcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/webhook"
)

// The namespaces of the rig: kubernaut's (its gateway runs and creates RRs
// there), rrguard's (the webhook's certificate Secret), Alertmanager's (the
// sender's ServiceAccount), and the one the alerts are about, which
// kubernaut's scope check must see as managed.
const (
	kubernautNS  = "kubernaut-system"
	rrguardNS    = "rrguard-system"
	monitoringNS = "monitoring"
	alertNS      = "prod"
)

// rig is a running control plane with kubernaut's gateways, and rrguard's
// webhook when -webhook is on.
type rig struct {
	env      *testenv.Env
	dir      string
	webhook  *process
	gateways []*process
	// urls are the gateways' signal endpoints.
	urls []string
	// senderToken is the Alertmanager ServiceAccount's bearer token.
	senderToken string
	audit       *dataStorageStub
}

func startRig(t *testing.T) *rig {
	ctx := context.Background()
	r := &rig{dir: t.TempDir()}
	crdDir := filepath.Join(r.dir, "crd")
	must(t, os.MkdirAll(crdDir, 0o755))
	crd, err := os.ReadFile(*kubernautCRD)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(crdDir, filepath.Base(*kubernautCRD)), crd, 0o644))

	opts := testenv.Options{CRDPath: crdDir}
	var hook *admissionregistrationv1.ValidatingWebhookConfiguration
	if *withWebhook {
		hook = webhook.Configuration(webhook.ConfigurationOptions{FailurePolicy: admissionregistrationv1.FailurePolicyType(*failurePolicy)})
		opts.ValidatingWebhooks = []*admissionregistrationv1.ValidatingWebhookConfiguration{hook}
	}
	r.env, err = testenv.Start(opts)
	must(t, err)
	t.Cleanup(func() { _ = r.env.Stop() })
	admin := filepath.Join(r.dir, "admin.kubeconfig")
	must(t, os.WriteFile(admin, r.env.Environment().KubeConfig, 0o600))

	for _, ns := range []string{kubernautNS, rrguardNS, monitoringNS, alertNS} {
		obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
		if ns == alertNS {
			obj.Labels = map[string]string{"kubernaut.ai/managed": "true"}
		}
		must(t, r.env.Client.Create(ctx, obj))
	}
	applyYAML(t, r, filepath.Join("testdata", "gateway-rbac.yaml"))
	gatewayToken := token(t, r, kubernautNS, "gateway")
	r.senderToken = token(t, r, monitoringNS, "alertmanager")
	gatewayKubeconfig := writeTokenKubeconfig(t, r, "gateway.kubeconfig", gatewayToken)

	r.audit = startDataStorageStub(t)
	if *withWebhook {
		r.webhook = webhookProcess(t, r, admin, hook.Name)
		r.webhook.start(t)
		r.webhook.waitReady(t, 60*time.Second)
	}
	for i := range *replicas {
		g := gatewayProcess(t, r, i, gatewayKubeconfig)
		r.gateways = append(r.gateways, g)
		g.start(t)
	}
	for _, g := range r.gateways {
		g.waitReady(t, 120*time.Second)
	}
	t.Cleanup(func() { r.keepLogs(t) })
	return r
}

// applyYAML creates every object of a multi-document YAML file.
func applyYAML(t *testing.T, r *rig, path string) {
	data, err := os.ReadFile(path)
	must(t, err)
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			t.Fatalf("%s: %v", path, err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		if err := r.env.Client.Create(context.Background(), obj); err != nil {
			t.Fatalf("create %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
}

// token asks the API server for a ServiceAccount token (TokenRequest), as
// the kubelet does for a pod's projected token.
func token(t *testing.T, r *rig, ns, sa string) string {
	cs, err := kubernetes.NewForConfig(r.env.Config)
	must(t, err)
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
	}, metav1.CreateOptions{})
	must(t, err)
	return tr.Status.Token
}

// writeTokenKubeconfig writes a kubeconfig that reaches the API server as
// the ServiceAccount whose token it holds.
func writeTokenKubeconfig(t *testing.T, r *rig, name, tok string) string {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["envtest"] = &clientcmdapi.Cluster{Server: r.env.Config.Host, CertificateAuthorityData: r.env.Config.CAData}
	cfg.AuthInfos["sa"] = &clientcmdapi.AuthInfo{Token: tok}
	cfg.Contexts["sa"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "sa"}
	cfg.CurrentContext = "sa"
	path := filepath.Join(r.dir, name)
	must(t, clientcmd.WriteToFile(*cfg, path))
	return path
}

func webhookProcess(t *testing.T, r *rig, kubeconfig, configName string) *process {
	wio := r.env.WebhookInstallOptions()
	health := freeAddr(t)
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--webhook-port=" + strconv.Itoa(wio.LocalServingPort),
		"--cert-mode=self-signed",
		"--webhook-cert-path=" + filepath.Join(r.dir, "webhook-certs"),
		"--cert-namespace=" + rrguardNS,
		"--cert-extra-sans=localhost," + wio.LocalServingHost,
		"--cert-webhook-configuration-name=" + configName,
		"--metrics-bind-address=" + freeAddr(t),
		"--health-probe-bind-address=" + health,
	}
	args = append(args, strings.Fields(*webhookArgs)...)
	return &process{name: "webhook", path: filepath.Join(*rrguardBin, "webhook"), args: args,
		ready: "http://" + health + "/readyz", log: filepath.Join(r.dir, "webhook.log")}
}

// gatewayConfig is kubernaut's gateway configuration as its chart renders
// it with the chart's defaults, but for the addresses (loopback, one port
// each per replica) and DataStorage (the stub).
const gatewayConfig = `logging:
  level: "INFO"
server:
  listenAddr: %q
  healthAddr: %q
  metricsAddr: %q
  maxConcurrentRequests: 100
  readTimeout: 30s
  writeTimeout: 30s
  idleTimeout: 120s
  k8sRequestTimeout: 15s
cors:
  allowedOrigins: ["https://no-browser-clients.invalid"]
  allowedMethods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
  allowCredentials: false
  maxAge: 300
middleware:
  trustedProxyCIDRs: []
datastorage:
  url: %q
  healthUrl: %q
  timeout: 10s
  buffer:
    bufferSize: 10000
    batchSize: 100
    flushInterval: 1s
    maxRetries: 3
processing:
  deduplication:
    cooldownPeriod: 5m
  retry:
    maxAttempts: 3
    initialBackoff: 100ms
    maxBackoff: 5s
`

func gatewayProcess(t *testing.T, r *rig, i int, kubeconfig string) *process {
	listen, health := freeAddr(t), freeAddr(t)
	name := fmt.Sprintf("gateway-%d", i)
	cfgPath := filepath.Join(r.dir, name+".yaml")
	cfg := fmt.Sprintf(gatewayConfig, listen, health, freeAddr(t), r.audit.url, r.audit.url+"/readyz")
	must(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
	r.urls = append(r.urls, "http://"+listen+"/api/v1/signals/prometheus")
	return &process{name: name, path: *kubernautGateway, args: []string{"--config=" + cfgPath},
		env: []string{
			// The chart's downward API: the pod's name turns the Lease lock on.
			"POD_NAME=" + name, "POD_NAMESPACE=" + kubernautNS,
			// What the ServiceAccount's namespace file says in a pod.
			"KUBERNAUT_CONTROLLER_NAMESPACE=" + kubernautNS,
			"KUBECONFIG=" + kubeconfig,
		},
		ready: "http://" + health + "/readyz", log: filepath.Join(r.dir, name+".log")}
}

func (r *rig) keepLogs(t *testing.T) {
	if *keep == "" {
		return
	}
	must(t, os.MkdirAll(*keep, 0o755))
	for _, p := range append([]*process{r.webhook}, r.gateways...) {
		if p == nil {
			continue
		}
		data, err := os.ReadFile(p.log)
		if err == nil {
			_ = os.WriteFile(filepath.Join(*keep, p.name+".log"), data, 0o644)
		}
	}
}

func freeAddr(t *testing.T) string {
	a, err := testenv.FreeAddr()
	must(t, err)
	return a
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
