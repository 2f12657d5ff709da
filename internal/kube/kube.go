package kube

import (
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// The client-side rate limit of every rrguard client. client-go's own
// default (5 QPS, burst 10, what a kubeconfig loaded with clientcmd keeps)
// would throttle a burst of new incidents, or a webhook's claim reads, to a
// crawl, and controller-runtime's search would set 20/30 instead: a binary
// would get different limits depending on how it was pointed at the
// cluster. The API server's priority and fairness protects it from more.
const (
	clientQPS   = 100
	clientBurst = 200
)

// NewScheme returns a scheme with the core types, CRDs and
// RemediationRequest.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, v1alpha1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(fmt.Sprintf("build scheme: %v", err))
		}
	}
	return s
}

// LoadConfig loads the kubeconfig at path; with no path, controller-runtime's
// search: in-cluster, $KUBECONFIG, ~/.kube/config. Either way the config
// carries clientQPS and clientBurst.
func LoadConfig(path string) (*rest.Config, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = clientQPS, clientBurst
	return cfg, nil
}

func loadConfig(path string) (*rest.Config, error) {
	if path != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, fmt.Errorf("load kubeconfig %s: %w", path, err)
		}
		return cfg, nil
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("find a kubeconfig: %w", err)
	}
	return cfg, nil
}

// LoadConfigContext is LoadConfig with a kubeconfig context other than the
// current one (kubectl's --context). With no path, the kubeconfig is
// $KUBECONFIG or ~/.kube/config, as kubectl finds it. The config carries
// clientQPS and clientBurst too.
func LoadConfigContext(path, context string) (*rest.Config, error) {
	if context == "" {
		return LoadConfig(path)
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig context %s: %w", context, err)
	}
	cfg.QPS, cfg.Burst = clientQPS, clientBurst
	return cfg, nil
}
