package manifests

import (
	"context"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/certs"
	"github.com/rrguard/rrguard/counter"
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
		if rbacKinds[u.GetKind()] && u.GetName() != webhookCounter {
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

// webhookCounter names the ClusterRole and ClusterRoleBinding with which the
// kubernaut variants let the webhook count (manifests/rbac/counter).
const webhookCounter = "rrguard-webhook-counter"

// The kubernaut variants let the webhook count a denied create on its
// holder — read it, watch it, patch its status — and nothing more on
// RemediationRequests; every other variant leaves it without (the RBAC
// test's webhook checks).
func TestTheKubernautVariantsLetTheWebhookCount(t *testing.T) {
	ctx := context.Background()
	for _, v := range variants {
		b := build(t, v.dir)
		if got := b.find("ClusterRoleBinding", webhookCounter) != nil; got != v.kubernautCreators {
			t.Errorf("%s: %s present: %v, want %v", v.dir, webhookCounter, got, v.kubernautCreators)
		}
	}
	var objs built
	for _, u := range build(t, "kubernaut") {
		if u.GetKind() == "Namespace" || u.GetKind() == "ServiceAccount" || strings.HasPrefix(u.GetName(), "rrguard-webhook") && strings.HasPrefix(u.GetKind(), "Cluster") {
			objs = append(objs, u)
		}
	}
	apply(t, objs)
	ns := env.Namespace(t)
	holder := testenv.RemediationRequest(ns, "holder", anyFingerprint)
	if err := env.Client.Create(ctx, holder); err != nil {
		t.Fatal(err)
	}
	webhookSA := as(t, "rrguard-webhook")
	t.Cleanup(func() {
		for _, u := range objs {
			if u.GetName() == webhookCounter {
				_ = env.Client.Delete(ctx, u)
			}
		}
		// The RBAC test holds the webhook of the other variants to no
		// count: wait until the authorizer has dropped the binding.
		waitRefused(t, func() error { return patchCount(ctx, webhookSA, holder) })
	})
	_ = env.Client.Delete(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: certs.DefaultWebhookConfigurationName}})
	run(t, webhookSA, []check{
		{"read, watch and patch the count of an RR in any namespace", func(ctx context.Context, c client.Client) error {
			rr := &v1alpha1.RemediationRequest{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(holder), rr); err != nil {
				return err
			}
			if err := watch(ctx, c, &v1alpha1.RemediationRequestList{}, client.InNamespace(ns)); err != nil {
				return err
			}
			return c.Status().Patch(ctx, rr, counter.DeduplicationPatch(rr.ResourceVersion, 2, time.Now(), time.Now()))
		}, true},
		{"update an RR's status", updateStatus(ns, "holder"), false},
		{"patch an RR", func(ctx context.Context, c client.Client) error {
			return c.Patch(ctx, holder, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"x":"y"}}}`)))
		}, false},
		{"create an RR", func(ctx context.Context, c client.Client) error {
			return c.Create(ctx, testenv.RemediationRequest(ns, "by-the-webhook", anyFingerprint))
		}, false},
	})
}

// kubernaut-webhook is the kubernaut variant without rrguard's gateway:
// every other object is the same, the webhook's registration guarding every
// namespace and its counting of kubernaut's creators included.
func TestTheKubernautWebhookVariantIsTheKubernautVariantWithoutTheGateway(t *testing.T) {
	id := func(u *unstructured.Unstructured) string {
		return u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
	}
	alone := map[string]*unstructured.Unstructured{}
	for _, u := range build(t, "kubernaut-webhook") {
		alone[id(u)] = u
	}
	for _, u := range build(t, "kubernaut") {
		gatewaysOwn := strings.Contains(u.GetName(), "gateway") || strings.Contains(u.GetName(), "signal-sender")
		got, ok := alone[id(u)]
		switch {
		case gatewaysOwn && ok:
			t.Errorf("%s: the gateway's, still installed", id(u))
		case !gatewaysOwn && !ok:
			t.Errorf("%s: missing", id(u))
		case ok && !equality.Semantic.DeepEqual(got.Object, u.Object):
			t.Errorf("%s differs from the kubernaut variant's", id(u))
		}
		delete(alone, id(u))
	}
	for k := range alone {
		t.Errorf("%s: not in the kubernaut variant", k)
	}
}
