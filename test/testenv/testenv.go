package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/rrguard/rrguard/internal/kube"
)

// Options says what to install besides the CRD.
type Options struct {
	// ValidatingWebhooks are registered with envtest's generated CA and
	// localhost URL (WebhookInstallOptions); serve them from
	// Env.WebhookInstallOptions().
	ValidatingWebhooks []*admissionv1.ValidatingWebhookConfiguration
	// APIServerFlags are extra kube-apiserver flags, as key=value.
	APIServerFlags map[string]string
	// CRDPath is the folder of CRDs to install. Defaults to CRDPath(), the
	// generated one; KubernautCRDPath() installs kubernaut's schema instead.
	CRDPath string
}

// Env is a running control plane.
type Env struct {
	env *envtest.Environment
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// Client reads, writes and watches the API server directly, without a
	// cache: exactly what the manager's APIReader is.
	Client client.WithWatch
	// Scheme knows the core types and RemediationRequest.
	Scheme *k8sruntime.Scheme
	// leftovers are folders the control plane uses until it stops.
	leftovers []string
}

// ErrNoAssets is returned when KUBEBUILDER_ASSETS does not name the built
// control plane.
var ErrNoAssets = errors.New("KUBEBUILDER_ASSETS is not set to a folder with kube-apiserver and etcd; run the tests with `make test`, which builds them (`make testbin`)")

// RepoRoot returns the repository's root folder.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// CRDPath is the folder of the generated CRD.
func CRDPath() string { return filepath.Join(RepoRoot(), "manifests", "crd", "bases") }

// KubernautCRDPath is the folder of a fixture CRD with kubernaut's own
// RemediationRequest schema (see the file's header), for tests that must
// hold on a kubernaut cluster: its status has fields rrguard's types do not
// declare.
func KubernautCRDPath() string {
	return filepath.Join(RepoRoot(), "test", "testenv", "testdata", "kubernaut-crd")
}

// NewScheme returns a scheme with the core types, CRDs and RemediationRequest.
func NewScheme() *k8sruntime.Scheme { return kube.NewScheme() }

// Start starts etcd and kube-apiserver and installs the CRD (about 4 s).
func Start(opts Options) (*Env, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return nil, ErrNoAssets
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNoAssets, err)
		}
	}
	// controller-runtime's own logs are not what tests assert on; the
	// packages under test are given their loggers explicitly.
	ctrllog.SetLogger(logr.Discard())
	scheme := NewScheme()
	if opts.CRDPath == "" {
		opts.CRDPath = CRDPath()
	}
	e := &envtest.Environment{
		Scheme:                scheme,
		CRDDirectoryPaths:     []string{opts.CRDPath},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			ValidatingWebhooks: opts.ValidatingWebhooks,
		},
	}
	args := e.ControlPlane.GetAPIServer().Configure()
	// A stop (Stop, RestartAPIServer) ends the watches it holds, as a
	// cluster's API server does before its pod's grace runs out: without
	// it kube-apiserver's HTTP server waits for every open watch of a
	// custom resource (an informer of the webhook's, say) past envtest's
	// 20 s stop timeout.
	args.Set("shutdown-watch-termination-grace-period", "2s")
	for k, v := range opts.APIServerFlags {
		args.Set(k, v)
	}
	cfg, err := e.Start()
	if err != nil {
		return nil, fmt.Errorf("start envtest control plane: %w", err)
	}
	// Admission storms in the tests make many requests at once.
	cfg.QPS, cfg.Burst = -1, 0
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = e.Stop()
		return nil, fmt.Errorf("new client: %w", err)
	}
	return &Env{env: e, Config: cfg, Client: c, Scheme: scheme}, nil
}

// Stop stops the control plane.
func (e *Env) Stop() error {
	err := e.env.Stop()
	for _, dir := range e.leftovers {
		_ = os.RemoveAll(dir)
	}
	return err
}

// Environment is the underlying envtest environment, for tests that need its
// control plane (to restart the API server, say).
func (e *Env) Environment() *envtest.Environment { return e.env }

// WebhookInstallOptions says where the registered webhooks expect to be
// served: host, port and the certificate folder envtest generated.
func (e *Env) WebhookInstallOptions() *envtest.WebhookInstallOptions {
	return &e.env.WebhookInstallOptions
}

// Namespace creates a fresh namespace for one test and returns its name.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "rrguard-test-"}}
	if err := e.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	return ns.Name
}

// Main runs a package's tests on one control plane shared by them all: it
// starts env, runs m, stops env and exits. set receives the running Env.
func Main(m *testing.M, opts Options, set func(*Env)) {
	Run(opts, func(e *Env) int {
		set(e)
		return m.Run()
	})
}

// Run starts a control plane, calls run with it (a TestMain's body, which
// returns m.Run()'s code after whatever it serves around the tests), stops
// it and exits with run's code.
func Run(opts Options, run func(*Env) int) {
	env, err := Start(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		os.Exit(1)
	}
	code := run(env)
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "testenv: stop:", err)
	}
	os.Exit(code)
}
