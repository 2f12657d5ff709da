package scope

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/test/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.Options{}, func(e *testenv.Env) { env = e })
}

// namespace creates a namespace labelled managed=value (none when empty).
func namespace(t *testing.T, value string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "scope-", Labels: managed(value)}}
	create(t, ns)
	return ns.Name
}

func managed(value string) map[string]string {
	if value == "" {
		return nil
	}
	return map[string]string{ManagedLabel: value}
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// deployment creates a Deployment labelled managed=value in ns.
func deployment(t *testing.T, ns, name, value string) v1alpha1.ResourceIdentifier {
	t.Helper()
	sel := map[string]string{"app": name}
	create(t, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: managed(value)},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: sel},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}},
			},
		},
	})
	return v1alpha1.ResourceIdentifier{Kind: "Deployment", Namespace: ns, Name: name, APIVersion: "apps/v1"}
}

// node creates a Node labelled managed=value.
func node(t *testing.T, value string) v1alpha1.ResourceIdentifier {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{GenerateName: "worker-", Labels: managed(value)}}
	create(t, n)
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), n) })
	return v1alpha1.ResourceIdentifier{Kind: "Node", Name: n.Name, APIVersion: "v1"}
}

// kubernaut's scope rules on the real API server: the object's own label
// first, then its namespace's; a cluster-scoped object never inherits; no
// label (or a value other than true and false) is out of scope.
func TestCheck(t *testing.T) {
	in, out, plain, odd := namespace(t, "true"), namespace(t, "false"), namespace(t, ""), namespace(t, "yes")
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: plain, Name: "creds", Labels: managed("true")}}
	create(t, secret)
	managedNode, plainNode, refusedNode := node(t, "true"), node(t, ""), node(t, "false")
	inheritingNode := plainNode
	inheritingNode.Namespace = in // an alert's namespace label on a Node's alert

	tests := map[string]struct {
		target  v1alpha1.ResourceIdentifier
		cluster string // the signal's; the checker reads cluster ""
		managed bool
		reason  string // what the reason must name
	}{
		"the object's true in an unlabelled namespace":  {target: deployment(t, plain, "a", "true"), managed: true, reason: "Deployment " + plain + "/a is labelled kubernaut.ai/managed=true"},
		"the object's false beats its namespace's true": {target: deployment(t, in, "b", "false"), reason: "Deployment " + in + "/b is labelled kubernaut.ai/managed=false"},
		"an unlabelled object in a managed namespace":   {target: deployment(t, in, "c", ""), managed: true, reason: "namespace " + in + " is labelled kubernaut.ai/managed=true"},
		"an unlabelled object in a refused namespace":   {target: deployment(t, out, "d", ""), reason: "namespace " + out + " is labelled kubernaut.ai/managed=false"},
		"no label anywhere":                             {target: deployment(t, plain, "e", ""), reason: "kubectl label namespace " + plain + " kubernaut.ai/managed=true"},
		"a value other than true or false is no label":  {target: deployment(t, in, "f", "yes"), managed: true, reason: "namespace " + in},
		"a namespace's odd value is no label":           {target: deployment(t, odd, "g", ""), reason: "neither"},
		"an object that is gone: its namespace decides": {target: v1alpha1.ResourceIdentifier{Kind: "Deployment", Namespace: in, Name: "gone"}, managed: true, reason: "namespace " + in},
		"a namespace that does not exist":               {target: v1alpha1.ResourceIdentifier{Kind: "Deployment", Namespace: "no-such-namespace", Name: "x"}, reason: "neither"},
		"a custom resource: its namespace decides":      {target: v1alpha1.ResourceIdentifier{Kind: "Database", Namespace: in, Name: "orders", APIVersion: "db.example.com/v1"}, managed: true, reason: "namespace " + in},
		"a kind of another group: its namespace decides": {
			target: v1alpha1.ResourceIdentifier{Kind: "Deployment", Namespace: out, Name: "a", APIVersion: "example.com/v1"}, reason: "namespace " + out,
		},
		// The gateway may not get Secrets: their label is never read.
		"a Secret's own label is not read":       {target: v1alpha1.ResourceIdentifier{Kind: "Secret", Namespace: plain, Name: "creds", APIVersion: "v1"}, reason: "the own label of Secret " + plain + "/creds is not read"},
		"a Node labelled true":                   {target: managedNode, managed: true, reason: "Node " + managedNode.Name + " is labelled"},
		"a Node labelled false":                  {target: refusedNode, reason: "kubernaut.ai/managed=false"},
		"an unlabelled Node":                     {target: plainNode, reason: "kubectl label node " + plainNode.Name},
		"a Node never inherits an alert's scope": {target: inheritingNode, reason: "inherits no namespace"},
		"a cluster-scoped kind it does not read": {target: v1alpha1.ResourceIdentifier{Kind: "ClusterRole", Name: "admin"}, reason: "never in scope"},
		"a managed namespace itself":             {target: v1alpha1.ResourceIdentifier{Kind: "Namespace", Name: in}, managed: true, reason: "Namespace " + in + " is labelled"},
		"an unlabelled namespace itself":         {target: v1alpha1.ResourceIdentifier{Kind: "Namespace", Name: plain}, reason: "inherits no namespace"},
		// A federated alert's target lives elsewhere, whatever this
		// cluster's labels say.
		"a target in another cluster": {target: deployment(t, in, "h", "true"), cluster: "prod-eu", reason: `is in cluster "prod-eu"`},
	}
	c := Checker{Reader: env.Client}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v, err := c.Check(context.Background(), tc.cluster, tc.target)
			if err != nil {
				t.Fatal(err)
			}
			if v.Managed != tc.managed || !strings.Contains(v.Reason, tc.reason) {
				t.Errorf("Check(%+v) = %+v, want managed=%v with a reason naming %q", tc.target, v, tc.managed, tc.reason)
			}
		})
	}
}

// A label that cannot be read decides nothing: the signal is not counted
// and not ignored, and its sender retries.
func TestCheckCannotReadTheLabels(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in := namespace(t, "true")
	for _, target := range []v1alpha1.ResourceIdentifier{
		{Kind: "Deployment", Namespace: in, Name: "a"},
		{Kind: "Database", Namespace: in, Name: "orders"},
	} {
		if v, err := (Checker{Reader: env.Client}).Check(ctx, "", target); err == nil {
			t.Errorf("Check(%+v) with the API unreachable = %+v, want an error", target, v)
		}
	}
}
