package gatewaytest

import (
	"testing"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rrguard/rrguard/gateway/target"
)

// Targets is the target resolution the gateway wires (target.Resolver on
// discovery), reading through r on cfg's API server: for a pipeline built
// by hand, and for the baselines, which must name a signal's object as the
// gateway does.
func Targets(t testing.TB, cfg *rest.Config, r client.Reader) *target.Resolver {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return target.NewResolver(r, target.NewKinds(dc))
}
