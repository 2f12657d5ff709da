package kube

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Both binaries load their config with LoadConfig; however they are pointed
// at the cluster, they must get the same client rate limits. Before
// LoadConfig set them, --kubeconfig gave client-go's 5/10 and the search
// controller-runtime's 20/30.
func TestLoadConfigSetsTheSameRateLimitsEveryWay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	kc := clientcmdapi.NewConfig()
	kc.Clusters["c"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:6443"}
	kc.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "t"}
	kc.Contexts["x"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	kc.CurrentContext = "x"
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	// The search below must find this file, not an in-cluster config or
	// the user's own.
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBECONFIG", path)
	t.Setenv("HOME", t.TempDir())

	for name, load := range map[string]func() (*rest.Config, error){
		"--kubeconfig": func() (*rest.Config, error) { return LoadConfig(path) },
		"controller-runtime's search (KUBECONFIG)": func() (*rest.Config, error) { return LoadConfig("") },
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := load()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Host != "https://127.0.0.1:6443" {
				t.Fatalf("host %q: loaded the wrong config", cfg.Host)
			}
			if cfg.QPS != clientQPS || cfg.Burst != clientBurst {
				t.Fatalf("QPS/burst %v/%d, want %d/%d", cfg.QPS, cfg.Burst, clientQPS, clientBurst)
			}
		})
	}
	// The two ways differ without LoadConfig's limits: the test above
	// would not notice a regression if they agreed by themselves.
	a, _ := loadConfig(path)
	b, _ := loadConfig("")
	if a.QPS == b.QPS && a.Burst == b.Burst {
		t.Fatalf("the raw loaders agree (%v/%d); this test no longer shows anything", a.QPS, a.Burst)
	}
	_ = os.Remove(path)
}
