package manifests

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/rrguard/rrguard/certs"
)

// components are the optional kustomize components under components/,
// each added to a variant the way manifests/README.md tells a user to: in
// a kustomization of their own that installs the variant.
var components = []string{"servicemonitor", "networkpolicies"}

// kubernautOverlayPatch is the patch manifests/README.md tells a user to
// add to an overlay of manifests/kubernaut that adds objects: kustomize then
// renames the subject of the gateway's RoleBinding in kubernaut-system back
// to "gateway" (any added object does it, a ConfigMap as well as a
// component), which binds nothing.
const kubernautOverlayPatch = `patches:
- target: {kind: RoleBinding, name: rrguard-gateway, namespace: kubernaut-system}
  patch: |-
    - op: replace
      path: /subjects/0/name
      value: rrguard-gateway
`

// buildWith builds variant with component added in an overlay.
func buildWith(t *testing.T, variant, component string) built {
	t.Helper()
	dir := t.TempDir()
	// kustomize takes relative paths only.
	rel := func(p string) string {
		a, err := filepath.Abs(p)
		if err == nil {
			a, err = filepath.Rel(dir, a)
		}
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	k := fmt.Sprintf("resources:\n- %s\ncomponents:\n- %s\n", rel(variant), rel(filepath.Join("components", component)))
	if variant == "kubernaut" {
		k += kubernautOverlayPatch
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	return build(t, dir)
}

func key(u *unstructured.Unstructured) string {
	return u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
}

// TestEveryVariantBuildsWithEachComponent adds each component to each
// variant: it adds objects and changes none of the variant's, each added
// object fits the variant (namespace, the pods and ports it names, the
// roles it binds), and the API server accepts each added object (all but
// the ServiceMonitor, whose CRD is the Prometheus Operator's and not
// installed here).
func TestEveryVariantBuildsWithEachComponent(t *testing.T) {
	for _, v := range variants {
		for _, c := range components {
			t.Run(v.dir+"+"+c, func(t *testing.T) {
				base, b := build(t, v.dir), buildWith(t, v.dir, c)
				inBase := map[string]*unstructured.Unstructured{}
				for _, u := range base {
					inBase[key(u)] = u
				}
				var added built
				for _, u := range b {
					if was, ok := inBase[key(u)]; !ok {
						added = append(added, u)
					} else if !equalObjects(was, u) {
						t.Errorf("the component changed %s", key(u))
					}
				}
				if len(added) == 0 || len(b) != len(base)+len(added) {
					t.Fatalf("the component added %d objects to %d, built %d", len(added), len(base), len(b))
				}
				for _, u := range added {
					if ns := u.GetNamespace(); ns != "" && ns != certs.DefaultNamespace {
						t.Errorf("%s: want namespace %s", key(u), certs.DefaultNamespace)
					}
					checkAdded(t, b, u, v.noGateway)
				}
				// Only what the component adds: the variant's own objects are
				// applied by TestEveryVariantBuildsAndTheAPIServerAcceptsEveryObject,
				// and other tests hold RBAC to what one variant installs.
				ensureNamespace(t, certs.DefaultNamespace)
				apply(t, added.withoutKind("ServiceMonitor"))
			})
		}
	}
}

func equalObjects(a, b *unstructured.Unstructured) bool {
	ja, errA := a.MarshalJSON()
	jb, errB := b.MarshalJSON()
	return errA == nil && errB == nil && string(ja) == string(jb)
}

func (b built) withoutKind(kind string) built {
	return slices.DeleteFunc(slices.Clone(b), func(u *unstructured.Unstructured) bool { return u.GetKind() == kind })
}

// checkAdded holds one object a component added to what the variant
// installs.
func checkAdded(t *testing.T, b built, u *unstructured.Unstructured, noGateway bool) {
	t.Helper()
	switch u.GetKind() {
	case "NetworkPolicy":
		np := typed[networkingv1.NetworkPolicy](t, u)
		_ = selectedDeployment(t, b, key(u), np.Spec.PodSelector.MatchLabels, noGateway)
	case "Service":
		s := typed[corev1.Service](t, u)
		d := selectedDeployment(t, b, key(u), s.Spec.Selector, noGateway)
		if d == nil {
			return
		}
		for _, p := range s.Spec.Ports {
			if containerPort(d, p.TargetPort.String()) == nil {
				t.Errorf("%s: target port %s is no container port of %s", key(u), p.TargetPort.String(), d.Name)
			}
		}
	case "ServiceMonitor":
		checkServiceMonitor(t, b, u, noGateway)
	case "ClusterRoleBinding":
		crb := typed[rbacv1.ClusterRoleBinding](t, u)
		if b.find("ClusterRole", crb.RoleRef.Name) == nil {
			t.Errorf("%s binds ClusterRole %s, which the variant does not install", key(u), crb.RoleRef.Name)
		}
		// Prometheus's ServiceAccount stays in its namespace, whatever
		// namespace the variant moves its own objects to.
		for _, s := range crb.Subjects {
			if s.Namespace != "monitoring" {
				t.Errorf("%s binds %s/%s, want kube-prometheus's monitoring/prometheus-k8s", key(u), s.Namespace, s.Name)
			}
		}
	default:
		t.Errorf("%s: a kind this test does not check", key(u))
	}
}

// selectedDeployment is the one Deployment whose pods sel selects; nil for
// the gateway's pods in a variant without the gateway (noGateway), where
// the component's objects for it are inert.
func selectedDeployment(t *testing.T, b built, what string, sel map[string]string, noGateway bool) *appsv1.Deployment {
	t.Helper()
	var found []*appsv1.Deployment
	for _, u := range b.all("Deployment") {
		d := typed[appsv1.Deployment](t, u)
		if len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(d.Spec.Template.Labels)) {
			found = append(found, d)
		}
	}
	if len(found) == 0 && noGateway && sel["app.kubernetes.io/component"] == "gateway" {
		return nil
	}
	if len(found) != 1 {
		t.Fatalf("%s selects %d Deployments' pods, want 1", what, len(found))
	}
	return found[0]
}

func containerPort(d *appsv1.Deployment, name string) *corev1.ContainerPort {
	for _, c := range d.Spec.Template.Spec.Containers {
		for i, p := range c.Ports {
			if p.Name == name {
				return &c.Ports[i]
			}
		}
	}
	return nil
}

// checkServiceMonitor: it selects Services of the build that expose its
// endpoint's port, and those are the metrics ports of both binaries.
func checkServiceMonitor(t *testing.T, b built, u *unstructured.Unstructured, noGateway bool) {
	t.Helper()
	sel, _, _ := unstructured.NestedStringMap(u.Object, "spec", "selector", "matchLabels")
	endpoints, _, _ := unstructured.NestedSlice(u.Object, "spec", "endpoints")
	if len(sel) == 0 || len(endpoints) != 1 {
		t.Fatalf("%s: selector %v, %d endpoints; want a selector and one endpoint", key(u), sel, len(endpoints))
	}
	port, _, _ := unstructured.NestedString(endpoints[0].(map[string]any), "port")
	var scraped []string
	for _, su := range b.all("Service") {
		s := typed[corev1.Service](t, su)
		if !labels.SelectorFromSet(sel).Matches(labels.Set(s.Labels)) {
			continue
		}
		for _, p := range s.Spec.Ports {
			if d := selectedDeployment(t, b, key(su), s.Spec.Selector, noGateway); d != nil && p.Name == port && p.TargetPort.String() == "metrics" {
				scraped = append(scraped, d.Name)
			}
		}
	}
	sort.Strings(scraped)
	want := []string{"rrguard-gateway", "rrguard-webhook"}
	if noGateway {
		want = want[1:]
	}
	if !slices.Equal(scraped, want) {
		t.Errorf("%s scrapes the metrics port of %v, want %v", key(u), scraped, want)
	}
}

// TestTheNetworkPoliciesAdmitEachPortsCallers holds who may reach which
// port: the webhook port anyone (the API server is not a pod; see
// components/networkpolicies/webhook.yaml), the signal API the sender
// namespaces, metrics the scraper namespaces, and no other port of a
// container but the kubelet's probes (which come from the node and cannot
// be blocked).
func TestTheNetworkPoliciesAdmitEachPortsCallers(t *testing.T) {
	const (
		anyone   = "anyone"
		scrapers = "rrguard.kubernaut.ai/metrics-scraper=true"
		senders  = "rrguard.kubernaut.ai/signal-sender=true"
	)
	for _, v := range variants {
		t.Run(v.dir, func(t *testing.T) {
			want := map[string]map[string]string{
				"rrguard-webhook": {"webhook-server": anyone, "metrics": scrapers},
				"rrguard-gateway": {"https": senders, "metrics": scrapers},
			}
			if v.noGateway {
				delete(want, "rrguard-gateway")
			}
			b := buildWith(t, v.dir, "networkpolicies")
			for _, u := range b.all("NetworkPolicy") {
				np := typed[networkingv1.NetworkPolicy](t, u)
				d := selectedDeployment(t, b, key(u), np.Spec.PodSelector.MatchLabels, v.noGateway)
				if d == nil {
					continue
				}
				if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) {
					t.Errorf("%s: policy types %v, want Ingress only", key(u), np.Spec.PolicyTypes)
				}
				got := admitted(t, np)
				if fmt.Sprint(got) != fmt.Sprint(want[d.Name]) {
					t.Errorf("%s admits %v, want %v", key(u), got, want[d.Name])
				}
				for port := range got {
					if containerPort(d, port) == nil {
						t.Errorf("%s names port %s, which %s's containers do not have", key(u), port, d.Name)
					}
				}
				for _, c := range d.Spec.Template.Spec.Containers {
					for _, p := range c.Ports {
						if _, ok := got[p.Name]; !ok && p.Name != "health" {
							t.Errorf("%s: %s's port %s (%d) admits no one", key(u), d.Name, p.Name, p.ContainerPort)
						}
					}
				}
				delete(want, d.Name)
			}
			if len(want) > 0 {
				t.Errorf("no NetworkPolicy for %v", want)
			}
		})
	}
}

// admitted maps each named port of np's ingress rules to who may reach
// it: anyone, or the label selecting the namespaces allowed.
func admitted(t *testing.T, np *networkingv1.NetworkPolicy) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, rule := range np.Spec.Ingress {
		who := "anyone"
		if len(rule.From) > 0 {
			var sels []string
			for _, peer := range rule.From {
				if peer.PodSelector != nil || peer.IPBlock != nil || peer.NamespaceSelector == nil {
					t.Errorf("%s: a peer %+v that is not a namespace selector", np.Name, peer)
					continue
				}
				sels = append(sels, metav1.FormatLabelSelector(peer.NamespaceSelector))
			}
			who = strings.Join(sels, ",")
		}
		if len(rule.Ports) == 0 {
			t.Errorf("%s: a rule for every port", np.Name)
		}
		for _, p := range rule.Ports {
			out[p.Port.String()] = who
		}
	}
	return out
}
