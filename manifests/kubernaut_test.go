package manifests

import (
	"context"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rrguard/rrguard/certs"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/webhook"
)

// ensureNamespace creates ns unless it exists, as kubernaut's install would
// have.
func ensureNamespace(t *testing.T, ns string) {
	t.Helper()
	err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// In the kubernaut variant the gateway's namespaced grants are in
// kubernaut-system, bound to its ServiceAccount in rrguard-system, and the
// webhook's registration leaves no namespace out.
func TestTheKubernautVariantWritesToKubernautSystem(t *testing.T) {
	b := build(t, "kubernaut")
	role := b.find("Role", "rrguard-gateway")
	binding := get[rbacv1.RoleBinding](t, b, "RoleBinding", "rrguard-gateway")
	if role == nil || role.GetNamespace() != kubernautNamespace || binding.Namespace != kubernautNamespace {
		t.Fatalf("gateway Role in %v, RoleBinding in %s; want both in %s", role, binding.Namespace, kubernautNamespace)
	}
	if s := binding.Subjects; len(s) != 1 || s[0].Kind != "ServiceAccount" || s[0].Name != "rrguard-gateway" || s[0].Namespace != certs.DefaultNamespace {
		t.Errorf("RoleBinding subjects %+v, want the gateway's ServiceAccount in %s", s, certs.DefaultNamespace)
	}
	vwc := get[admissionregistrationv1.ValidatingWebhookConfiguration](t, b, "ValidatingWebhookConfiguration", certs.DefaultWebhookConfigurationName)
	for _, w := range vwc.Webhooks {
		if w.NamespaceSelector != nil && (len(w.NamespaceSelector.MatchLabels) > 0 || len(w.NamespaceSelector.MatchExpressions) > 0) {
			t.Errorf("webhook %s selects namespaces (%+v); it must guard kubernaut-system as every other", w.Name, w.NamespaceSelector)
		}
	}
}

// The gateway's ServiceAccount, as the kubernaut variant binds it, may do its
// job in kubernaut-system and create nothing in rrguard-system.
func TestTheKubernautVariantsGatewayRBAC(t *testing.T) {
	ensureNamespace(t, kubernautNamespace)
	rbacKinds := map[string]bool{"Namespace": true, "ServiceAccount": true, "Role": true, "ClusterRole": true, "RoleBinding": true, "ClusterRoleBinding": true}
	var objs built
	for _, u := range build(t, "kubernaut") {
		if rbacKinds[u.GetKind()] {
			objs = append(objs, u)
		}
	}
	apply(t, objs)
	// No webhook serves in this test: take the configuration another test
	// applied out of the way, as the RBAC test does.
	_ = env.Client.Delete(context.Background(), &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: certs.DefaultWebhookConfigurationName}})

	gw := as(t, "rrguard-gateway")
	run(t, gw, []check{
		{"create, get, list, watch RRs in kubernaut-system and count on their status", countsOn(kubernautNamespace, "by-the-gateway-for-kubernaut"), true},
		{"read a claim in kubernaut-system", func(ctx context.Context, c client.Client) error {
			return c.Get(ctx, types.NamespacedName{Namespace: kubernautNamespace, Name: "rrclaim-x"}, &coordinationv1.Lease{})
		}, true},
		{"create an RR in rrguard-system", func(ctx context.Context, c client.Client) error {
			return c.Create(ctx, testenv.RemediationRequest(certs.DefaultNamespace, "not-here", anyFingerprint))
		}, false},
		{"delete an RR in kubernaut-system", func(ctx context.Context, c client.Client) error {
			return c.Delete(ctx, testenv.RemediationRequest(kubernautNamespace, "by-the-gateway-for-kubernaut", anyFingerprint))
		}, false},
	})
}

// The kubernaut variants name kubernaut's gateway and API frontend, as its
// chart runs them, in --count-denied-creators, and never rrguard's own
// gateway; the other variants name nobody.
func TestTheKubernautVariantsNameKubernautsCreators(t *testing.T) {
	user := func(ns, sa string) authenticationv1.UserInfo {
		return authenticationv1.UserInfo{Username: "system:serviceaccount:" + ns + ":" + sa}
	}
	for _, v := range variants {
		t.Run(v.dir, func(t *testing.T) {
			dep := get[appsv1.Deployment](t, build(t, v.dir), "Deployment", "rrguard-webhook")
			var named webhook.Creators
			for _, a := range expandedArgs(dep.Spec.Template.Spec.Containers[0]) {
				if val, ok := strings.CutPrefix(a, "--count-denied-creators="); ok {
					if err := named.Set(val); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, sa := range []string{"gateway", "apifrontend"} {
				if got := named.Match(user(kubernautNamespace, sa)); got != v.kubernautCreators {
					t.Errorf("kubernaut's %s named: %v, want %v (%s)", sa, got, v.kubernautCreators, named.String())
				}
			}
			if named.Match(user(certs.DefaultNamespace, "rrguard-gateway")) {
				t.Errorf("rrguard's own gateway is named (%s): it counts on the holder itself", named.String())
			}
		})
	}
}
