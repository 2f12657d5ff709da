package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/rrguard/rrguard/gateway"
	"github.com/rrguard/rrguard/gateway/httpapi"
	"github.com/rrguard/rrguard/gateway/pipeline"
	"github.com/rrguard/rrguard/gateway/signal"
	"github.com/rrguard/rrguard/internal/kube"
)

// Options are the gateway's command-line options.
type Options struct {
	// Kubeconfig is a kubeconfig file; empty means in-cluster, or
	// $KUBECONFIG, or ~/.kube/config (controller-runtime's GetConfig).
	Kubeconfig string
	// BindAddress serves the signal API. Defaults to ":8080".
	BindAddress string
	// MetricsBindAddress serves /metrics. Defaults to ":9090"; "0"
	// disables it.
	MetricsBindAddress string
	// HealthProbeBindAddress serves /healthz and /readyz. Defaults to
	// ":8081".
	HealthProbeBindAddress string
	// Namespace is where RemediationRequests are created. Defaults to the
	// pod's namespace, else "rrguard-system".
	Namespace string
	// Auth is "tokenreview" (default) or "none".
	Auth string
	// MaxBodyBytes caps a request body. Defaults to 1 MiB.
	MaxBodyBytes int64
	// RequestTimeout is each request's deadline. Defaults to
	// pipeline.DefaultTimeout (15s).
	RequestTimeout time.Duration
	// WebhookGuarded: rrguard's webhook decides every create in
	// Namespace (gateway.Options.WebhookGuarded). Defaults to false.
	WebhookGuarded bool
	// ClusterID is the cluster signals come from when they do not say
	// (gateway.Options.ClusterID). Defaults to empty: the local cluster.
	ClusterID string
	// Zap configures the logger: JSON unless --zap-devel.
	Zap zap.Options
}

// DefaultNamespace is the namespace when the pod's own is unknown.
const DefaultNamespace = kube.DefaultNamespace

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{
		BindAddress:            ":8080",
		MetricsBindAddress:     ":9090",
		HealthProbeBindAddress: ":8081",
		Namespace:              kube.PodNamespace(os.Getenv, os.ReadFile, DefaultNamespace),
		Auth:                   gateway.AuthTokenReview,
		MaxBodyBytes:           httpapi.DefaultMaxBodyBytes,
		RequestTimeout:         pipeline.DefaultTimeout,
		// JSON lines with readable timestamps, as a log pipeline expects.
		Zap: zap.Options{Development: false, TimeEncoder: zapcore.RFC3339NanoTimeEncoder},
	}
}

// BindFlags binds o's fields to flags on fs, with o's values as defaults.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "Path to a kubeconfig. Only required if out-of-cluster.")
	fs.StringVar(&o.BindAddress, "bind-address", o.BindAddress, "The address the signal API binds to.")
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", o.MetricsBindAddress, "The address the metrics endpoint binds to. Set \"0\" to disable it.")
	fs.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", o.HealthProbeBindAddress, "The address the /healthz and /readyz probe endpoints bind to.")
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "The namespace RemediationRequests are created in. Defaults to the pod's namespace, else "+DefaultNamespace+".")
	fs.StringVar(&o.Auth, "auth", o.Auth, "How callers are authenticated: \"tokenreview\" (a bearer token checked by TokenReview, then SubjectAccessReview for verb post on the endpoint's URL) or \"none\" (local use only).")
	fs.Int64Var(&o.MaxBodyBytes, "max-body-bytes", o.MaxBodyBytes, "The largest request body accepted; larger ones are answered 413.")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", o.RequestTimeout, "How long a request may take to count its signals before it is answered 504.")
	fs.BoolVar(&o.WebhookGuarded, "webhook-guarded", o.WebhookGuarded, "Set when rrguard's admission webhook guards the namespace (every kustomize variant installs it): a fingerprint this replica does not know is then looked up in its informer index of the namespace, without an API request, and the webhook's Duplicate denial names any active RemediationRequest the index has not seen yet. Without the webhook a lagging index would create duplicates; leave it off.")
	fs.StringVar(&o.ClusterID, "cluster-id", o.ClusterID, "The cluster ID of signals that do not name one: every Kubernetes Event, and alerts without a \"cluster\" label (the label wins). It becomes spec.clusterID and part of the fingerprint. Leave it empty in kubernaut's own (hub) cluster, where kubernaut expects local signals to carry none.")
	o.Zap.BindFlags(fs)
}

// Validate reports options that cannot work.
func (o *Options) Validate() error {
	var errs []error
	switch o.Auth {
	case gateway.AuthTokenReview, gateway.AuthNone:
	default:
		errs = append(errs, fmt.Errorf("--auth=%q: must be %q or %q", o.Auth, gateway.AuthTokenReview, gateway.AuthNone))
	}
	if o.Namespace == "" {
		errs = append(errs, errors.New("--namespace must not be empty"))
	}
	if o.MaxBodyBytes <= 0 {
		errs = append(errs, fmt.Errorf("--max-body-bytes=%d: must be positive", o.MaxBodyBytes))
	}
	if o.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--request-timeout=%s: must be positive", o.RequestTimeout))
	}
	if err := (signal.Parser{ClusterID: o.ClusterID}).Validate(); err != nil {
		errs = append(errs, fmt.Errorf("--cluster-id: %w", err))
	}
	if o.BindAddress == "" || o.BindAddress == "0" {
		errs = append(errs, errors.New("--bind-address must name an address: the signal API cannot be disabled"))
	}
	return errors.Join(errs...)
}

// parseOptions parses args into Options.
func parseOptions(args []string) (*Options, error) {
	o := NewOptions()
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	o.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return o, nil
}
