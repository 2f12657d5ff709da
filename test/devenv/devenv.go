package devenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/rrguard/rrguard/certs"
	"github.com/rrguard/rrguard/internal/kube"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/webhook"
)

// Options configure Run.
type Options struct {
	// BinDir holds the webhook and gateway binaries (make build).
	BinDir string
	// StateDir receives the kubeconfig and the logs; removed at the end.
	StateDir string
	// GatewayAddress is where the gateway serves signals over TLS.
	// Defaults to 127.0.0.1:8443.
	GatewayAddress string
	// Namespace is where RemediationRequests are created. Defaults to
	// rrguard-system.
	Namespace string
	// Out receives the progress lines and the instructions.
	Out io.Writer
}

// KubeconfigPath is where Run writes the kubeconfig inside StateDir.
func KubeconfigPath(stateDir string) string { return filepath.Join(stateDir, "kubeconfig") }

// gatewayCertDir is the gateway's cert directory inside StateDir: its
// self-signed serving pair, and the CA that verifies it.
func gatewayCertDir(stateDir string) string { return filepath.Join(stateDir, "gateway-certs") }

// GatewayCAPath is the CA that verifies the gateway's certificate (curl
// --cacert), inside StateDir.
func GatewayCAPath(stateDir string) string {
	return filepath.Join(gatewayCertDir(stateDir), certs.CACertFile)
}

// DefaultGatewayAddress is where the local gateway serves signals unless
// Options.GatewayAddress says otherwise.
const DefaultGatewayAddress = "127.0.0.1:8443"

// Run starts everything, prints how to use it, and stops it all when ctx
// ends.
func Run(ctx context.Context, o Options) (err error) {
	if o.GatewayAddress == "" {
		o.GatewayAddress = DefaultGatewayAddress
	}
	if o.Namespace == "" {
		o.Namespace = kube.DefaultNamespace
	}
	say := func(format string, args ...any) { fmt.Fprintf(o.Out, ">> "+format+"\n", args...) }
	if err := os.MkdirAll(o.StateDir, 0o755); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	defer func() {
		if rmErr := os.RemoveAll(o.StateDir); rmErr != nil {
			err = errors.Join(err, rmErr)
		}
		say("stopped; removed %s", o.StateDir)
	}()

	say("starting etcd and kube-apiserver with the RemediationRequest CRD and the webhook registered (about 5 s)...")
	webhookConfig := webhook.Configuration(webhook.ConfigurationOptions{})
	env, err := testenv.Start(testenv.Options{ValidatingWebhooks: []*admissionregistrationv1.ValidatingWebhookConfiguration{webhookConfig}})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, env.Stop()) }()
	kubeconfig := KubeconfigPath(o.StateDir)
	if err := os.WriteFile(kubeconfig, env.Environment().KubeConfig, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.Namespace}}
	if err := env.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", o.Namespace, err)
	}

	wio := env.WebhookInstallOptions()
	for _, p := range processes(o, kubeconfig, webhookConfig.Name, wio) {
		say("starting %s (logs: %s)", p.name, filepath.Join(o.StateDir, p.name+".log"))
		if err := p.start(o.BinDir, o.StateDir); err != nil {
			return err
		}
		defer p.stop()
		if err := waitReady(ctx, p.ready, 60*time.Second); err != nil {
			return fmt.Errorf("%s not ready (see its log): %w", p.name, err)
		}
	}
	printInstructions(o, kubeconfig, wio)
	<-ctx.Done()
	say("stopping...")
	return nil
}

// processes are the binaries Run starts: the webhook and the gateway, each
// serving TLS with rrguard's own self-signed mode.
func processes(o Options, kubeconfig, webhookConfig string, wio *envtest.WebhookInstallOptions) []*process {
	gatewayHost, _, _ := net.SplitHostPort(o.GatewayAddress)
	return []*process{
		{name: "webhook", args: []string{
			"--kubeconfig=" + kubeconfig,
			"--webhook-port=" + strconv.Itoa(wio.LocalServingPort),
			// A CA and a certificate for the URL envtest registered, kept
			// in a Secret, the CA written into the webhook configuration
			// in place of envtest's.
			"--cert-mode=self-signed",
			"--webhook-cert-path=" + filepath.Join(o.StateDir, "webhook-certs"),
			"--cert-namespace=" + o.Namespace,
			"--cert-extra-sans=localhost," + wio.LocalServingHost,
			"--cert-webhook-configuration-name=" + webhookConfig,
			// Plain HTTP on loopback, for curl: local use only.
			"--metrics-bind-address=127.0.0.1:18080",
			"--metrics-secure=false",
			"--health-probe-bind-address=127.0.0.1:18081",
		}, ready: "http://127.0.0.1:18081/readyz"},
		{name: "gateway", args: []string{
			"--kubeconfig=" + kubeconfig,
			"--auth=none",
			"--webhook-guarded",
			"--namespace=" + o.Namespace,
			"--bind-address=" + o.GatewayAddress,
			// The same for the signal API: its CA lands beside the pair,
			// for curl --cacert.
			"--cert-mode=self-signed",
			"--tls-cert-path=" + gatewayCertDir(o.StateDir),
			"--cert-namespace=" + o.Namespace,
			"--cert-extra-sans=localhost," + gatewayHost,
			"--metrics-bind-address=127.0.0.1:19090",
			"--metrics-secure=false",
			"--health-probe-bind-address=127.0.0.1:18082",
		}, ready: "http://127.0.0.1:18082/readyz"},
	}
}

// printInstructions says what runs where and how to use it.
func printInstructions(o Options, kubeconfig string, wio *envtest.WebhookInstallOptions) {
	fmt.Fprintf(o.Out, `
rrguard is running.

  gateway:     https://%[1]s  (auth none; self-signed certificate, CA %[6]s)
  kubeconfig:  %[2]s
  webhook:     https://%[3]s:%[4]d (self-signed certificate, CA injected into the registration)
  metrics:     http://127.0.0.1:18080/metrics (webhook), http://127.0.0.1:19090/metrics (gateway): plain HTTP, --metrics-secure=false

Post an alert:

  curl -sS --cacert %[6]s -XPOST https://%[1]s/api/v1/signals/prometheus -H 'Content-Type: application/json' -d '%[5]s'

Post 50 identical alerts at once and see what came of them:  make demo
Stop with Ctrl-C.
`, o.GatewayAddress, kubeconfig, wio.LocalServingHost, wio.LocalServingPort, sampleAlert("api"), GatewayCAPath(o.StateDir))
}

// process is one binary run by Run.
type process struct {
	name  string
	args  []string
	ready string
	cmd   *exec.Cmd
	log   *os.File
}

func (p *process) start(binDir, stateDir string) error {
	log, err := os.Create(filepath.Join(stateDir, p.name+".log"))
	if err != nil {
		return err
	}
	p.log = log
	p.cmd = exec.Command(filepath.Join(binDir, p.name), p.args...)
	p.cmd.Stdout, p.cmd.Stderr = log, log
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w (run make build first)", p.name, err)
	}
	return nil
}

// stop asks for a graceful shutdown and waits up to 20 s for it.
func (p *process) stop() {
	defer p.log.Close()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

func waitReady(ctx context.Context, url string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", url, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
