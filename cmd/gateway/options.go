package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/rrguard/rrguard/certs"
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
	// BindAddress serves the signal API over TLS. Defaults to ":8443".
	BindAddress string
	// TLSCertPath is the directory with the signal API's tls.crt and
	// tls.key, reloaded when they change. Defaults to
	// <tmp>/rrguard-gateway/serving-certs.
	TLSCertPath string
	// CertMode says where the serving certificate comes from: files
	// (default), self-signed or cert-manager.
	CertMode certs.Mode
	// Certs are the certificate details for the self-signed and
	// cert-manager modes, with the gateway's names
	// (gateway.CertOptions).
	Certs certs.Options
	// EnableHTTP2 serves HTTP/2 too. Defaults to false.
	EnableHTTP2 bool
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
	// TokenAudiences are the audiences a caller's token must be bound to.
	// Defaults to [rrguard-gateway].
	TokenAudiences []string
	// MaxRequestsInFlight bounds the requests served at once. Defaults to
	// 400.
	MaxRequestsInFlight int
	// MaxTokenReviewsInFlight bounds the TokenReviews in flight at once.
	// Defaults to 8.
	MaxTokenReviewsInFlight int
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
	// RequireManagedLabel counts only signals about objects in kubernaut's
	// management scope (gateway.Options.RequireManagedLabel). Defaults to
	// false.
	RequireManagedLabel bool
	// Zap configures the logger: JSON unless --zap-devel.
	Zap zap.Options
}

// DefaultNamespace is the namespace when the pod's own is unknown.
const DefaultNamespace = kube.DefaultNamespace

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{
		BindAddress:             ":8443",
		TLSCertPath:             filepath.Join(os.TempDir(), "rrguard-gateway", "serving-certs"),
		CertMode:                certs.ModeFiles,
		Certs:                   gateway.CertOptions(),
		TokenAudiences:          []string{httpapi.DefaultAudience},
		MaxRequestsInFlight:     httpapi.DefaultMaxRequestsInFlight,
		MaxTokenReviewsInFlight: 8,
		MetricsBindAddress:      ":9090",
		HealthProbeBindAddress:  ":8081",
		Namespace:               kube.PodNamespace(os.Getenv, os.ReadFile, DefaultNamespace),
		Auth:                    gateway.AuthTokenReview,
		MaxBodyBytes:            httpapi.DefaultMaxBodyBytes,
		RequestTimeout:          pipeline.DefaultTimeout,
		// JSON lines with readable timestamps, as a log pipeline expects.
		Zap: zap.Options{Development: false, TimeEncoder: zapcore.RFC3339NanoTimeEncoder},
	}
}

// BindFlags binds o's fields to flags on fs, with o's values as defaults.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "Path to a kubeconfig. Only required if out-of-cluster.")
	fs.StringVar(&o.BindAddress, "bind-address", o.BindAddress, "The address the signal API serves TLS on.")
	fs.StringVar(&o.TLSCertPath, "tls-cert-path", o.TLSCertPath, "The directory with the signal API's tls.crt and tls.key (and ca.crt, for senders); reloaded when they change.")
	fs.Var(&o.CertMode, "cert-mode", "Where the signal API's certificate comes from: files (the --tls-cert-path directory as mounted), self-signed (generated, stored in a Secret, written with its CA into --tls-cert-path) or cert-manager (not ready until the Certificate is Ready).")
	o.Certs.BindFlags(fs)
	fs.BoolVar(&o.EnableHTTP2, "enable-http2", o.EnableHTTP2, "Serve HTTP/2 as well; off by default because of HTTP/2's stream-reset weaknesses.")
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", o.MetricsBindAddress, "The address the metrics endpoint binds to. Set \"0\" to disable it.")
	fs.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", o.HealthProbeBindAddress, "The address the /healthz and /readyz probe endpoints bind to.")
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "The namespace RemediationRequests are created in. Defaults to the pod's namespace, else "+DefaultNamespace+".")
	fs.StringVar(&o.Auth, "auth", o.Auth, "How callers are authenticated: \"tokenreview\" (a bearer token checked by TokenReview, then SubjectAccessReview for verb post on the endpoint's URL) or \"none\" (local use only).")
	fs.Func("token-audiences", "Comma-separated audiences a caller's token must be bound to (the TokenReview's spec.audiences); a token for any other audience, the API server's included, is refused 401. A sender mounts a projected ServiceAccount token with one of them. (default \""+strings.Join(o.TokenAudiences, ",")+"\")", func(v string) error {
		o.TokenAudiences = nil
		for a := range strings.SplitSeq(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				o.TokenAudiences = append(o.TokenAudiences, a)
			}
		}
		return nil
	})
	fs.IntVar(&o.MaxRequestsInFlight, "max-requests-inflight", o.MaxRequestsInFlight, "The most requests served at once; more wait up to a third of --request-timeout for a slot, then are answered 429 with Retry-After.")
	fs.IntVar(&o.MaxTokenReviewsInFlight, "max-token-reviews-inflight", o.MaxTokenReviewsInFlight, "The most TokenReviews in flight at once; a quarter is kept for re-checking tokens accepted before, and a new token that finds the rest busy is answered 429 at once.")
	fs.Int64Var(&o.MaxBodyBytes, "max-body-bytes", o.MaxBodyBytes, "The largest request body accepted; larger ones are answered 413.")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", o.RequestTimeout, "How long a request may take to count its signals before it is answered 504.")
	fs.BoolVar(&o.WebhookGuarded, "webhook-guarded", o.WebhookGuarded, "Set when rrguard's admission webhook guards the namespace (every kustomize variant installs it): a fingerprint this replica does not know is then looked up in its informer index of the namespace, without an API request, and the webhook's Duplicate denial names any active RemediationRequest the index has not seen yet. Without the webhook a lagging index would create duplicates; leave it off.")
	fs.StringVar(&o.ClusterID, "cluster-id", o.ClusterID, "The cluster ID of signals that do not name one: every Kubernetes Event, and alerts without a \"cluster\" label (the label wins). It becomes spec.clusterID and part of the fingerprint. Leave it empty in kubernaut's own (hub) cluster, where kubernaut expects local signals to carry none.")
	fs.BoolVar(&o.RequireManagedLabel, "require-managed-label", o.RequireManagedLabel, "Count only signals whose target (resolved to its top-level controller) is in kubernaut's management scope, as kubernaut's gateway decides it: the target's own kubernaut.ai/managed label (true or false), else its namespace's; a cluster-scoped target must carry it itself. Other signals are answered 200 \"ignored\" with the reason and how to opt in. The kubernaut variant sets it.")
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
	if o.Auth == gateway.AuthTokenReview && len(o.TokenAudiences) == 0 {
		errs = append(errs, errors.New("--token-audiences must name at least one audience"))
	}
	if o.Namespace == "" {
		errs = append(errs, errors.New("--namespace must not be empty"))
	}
	if o.TLSCertPath == "" {
		errs = append(errs, errors.New("--tls-cert-path must name a directory: the signal API serves only TLS"))
	}
	if o.MaxRequestsInFlight <= 0 {
		errs = append(errs, fmt.Errorf("--max-requests-inflight=%d: must be positive", o.MaxRequestsInFlight))
	}
	if o.MaxTokenReviewsInFlight < 2 {
		errs = append(errs, fmt.Errorf("--max-token-reviews-inflight=%d: must be at least 2 (one is kept for known senders)", o.MaxTokenReviewsInFlight))
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
