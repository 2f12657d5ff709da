package target

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/rrguard/rrguard/test/testenv"
)

// The gateway's ClusterRole, as manifests/ ships it, lets it name every
// incident of the table: each read resolution makes is granted, and the
// operator's Database, which the role does not grant, is still named (a
// read RBAC refuses ends the climb there, it does not fail the signal).
func TestTheGatewaysRoleLetsItResolve(t *testing.T) {
	ctx := context.Background()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "manifests", "rbac", "gateway_cluster_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.UnmarshalStrict(b, role); err != nil {
		t.Fatal(err)
	}
	role.Name = "rrguard-gateway-resolution"
	const user = "rrguard-gateway-resolution"
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}
	for _, obj := range []client.Object{role, binding} {
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := NewResolver(c, NewKinds(dc))
	for _, tc := range append(append([]resolveCase{}, alertCases...), eventCases...) {
		if g := resolveOne(t, r, tc); g.Resolved != tc.incident {
			t.Errorf("%s: resolved to %s (%s) under the gateway's role, want %s", tc.name, g.Resolved, g.Reason, tc.incident)
		}
	}
}
