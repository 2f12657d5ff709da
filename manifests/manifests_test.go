package manifests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/kustomize/api/krusty"
	kustomizetypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/rrguard/rrguard/certs"
	"github.com/rrguard/rrguard/gateway"
	"github.com/rrguard/rrguard/gateway/pipeline"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/webhook"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.Options{}, func(e *testenv.Env) {
		env = e
		// cert-manager's Certificate and Issuer must be known before
		// manifests/default applies; the module zip ships its CRDs.
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cert-manager/cert-manager").Output()
		if err != nil {
			panic(fmt.Sprintf("find the cert-manager module: %v", err))
		}
		dir := filepath.Join(strings.TrimSpace(string(out)), "deploy", "crds")
		if _, err := envtest.InstallCRDs(e.Config, envtest.CRDInstallOptions{Paths: []string{
			filepath.Join(dir, "cert-manager.io_certificates.yaml"),
			filepath.Join(dir, "cert-manager.io_issuers.yaml"),
		}}); err != nil {
			panic(fmt.Sprintf("install cert-manager CRDs: %v", err))
		}
	})
}

// variant is one installable kustomization and what it must hold.
type variant struct {
	dir         string
	crd         bool
	certManager bool // else self-signed
	// requests is the namespace the gateway creates RemediationRequests
	// in, and holds its namespaced RBAC; rrguard-system when empty.
	requests string
	// managedScope: the gateway counts only signals in kubernaut's
	// management scope (--require-managed-label), as kubernaut's gateway.
	managedScope bool
	// kubernautCreators: the webhook denies kubernaut's gateway and API
	// frontend AlreadyExists (--count-denied-creators).
	kubernautCreators bool
	// noGateway: the webhook alone, kubernaut's gateway creating.
	noGateway bool
}

// kubernautNamespace is where kubernaut's orchestrator watches for
// RemediationRequests.
const kubernautNamespace = "kubernaut-system"

var variants = []variant{
	{dir: "default", crd: true, certManager: true},
	{dir: "without-crd", crd: false, certManager: true},
	{dir: "self-signed", crd: true, certManager: false},
	{dir: "kubernaut", crd: false, certManager: true, requests: kubernautNamespace, kubernautCreators: true, managedScope: true},
	{dir: "kubernaut-webhook", crd: false, certManager: true, kubernautCreators: true, noGateway: true},
}

// components are the binaries v runs.
func (v variant) components() []string {
	if v.noGateway {
		return []string{"webhook"}
	}
	return []string{"webhook", "gateway"}
}

// requestsNamespace is where v's gateway writes.
func (v variant) requestsNamespace() string {
	if v.requests == "" {
		return certs.DefaultNamespace
	}
	return v.requests
}

// inRequestsNamespace reports whether u is namespaced RBAC of the gateway,
// which lives where the gateway writes.
func inRequestsNamespace(u *unstructured.Unstructured) bool {
	return (u.GetKind() == "Role" || u.GetKind() == "RoleBinding") && u.GetName() == "rrguard-gateway"
}

// built is a kustomize build's output.
type built []*unstructured.Unstructured

func build(t *testing.T, dir string) built {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var out built
	for _, r := range m.Resources() {
		raw, err := r.MarshalJSON()
		if err != nil {
			t.Fatalf("kustomize build %s: %v", dir, err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			t.Fatalf("kustomize build %s: %v", dir, err)
		}
		out = append(out, u)
	}
	return out
}

func (b built) all(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, u := range b {
		if u.GetKind() == kind {
			out = append(out, u)
		}
	}
	return out
}

func (b built) find(kind, name string) *unstructured.Unstructured {
	for _, u := range b.all(kind) {
		if u.GetName() == name {
			return u
		}
	}
	return nil
}

// get converts the named object into typed; it fails the test if absent.
func get[T any](t *testing.T, b built, kind, name string) *T {
	t.Helper()
	u := b.find(kind, name)
	if u == nil {
		t.Fatalf("no %s %s in the build", kind, name)
	}
	return typed[T](t, u)
}

func typed[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
		t.Fatalf("convert %s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return out
}

// apply server-side applies b, namespaces and CRDs first, as kubectl
// apply --server-side would, and fails the test for every object refused.
func apply(t *testing.T, b built) {
	t.Helper()
	rank := func(u *unstructured.Unstructured) int {
		switch u.GetKind() {
		case "Namespace":
			return 0
		case "CustomResourceDefinition":
			return 1
		}
		return 2
	}
	sorted := slices.Clone(b)
	slices.SortStableFunc(sorted, func(a, b *unstructured.Unstructured) int { return rank(a) - rank(b) })
	for _, u := range sorted {
		err := env.Client.Apply(context.Background(), client.ApplyConfigurationFromUnstructured(u.DeepCopy()),
			client.FieldOwner("rrguard-manifests-test"), client.ForceOwnership)
		if err != nil {
			t.Errorf("server-side apply %s %s/%s: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
	}
}

func hasArg(c corev1.Container, arg string) bool { return slices.Contains(c.Args, arg) }

// expandedArgs returns c's args with $(VAR) replaced by c's env values, as
// the kubelet does.
func expandedArgs(c corev1.Container) []string {
	pairs := make([]string, 0, 2*len(c.Env))
	for _, e := range c.Env {
		pairs = append(pairs, "$("+e.Name+")", e.Value)
	}
	r := strings.NewReplacer(pairs...)
	out := make([]string, len(c.Args))
	for i, a := range c.Args {
		out[i] = r.Replace(a)
	}
	return out
}

func TestEveryVariantBuildsAndTheAPIServerAcceptsEveryObject(t *testing.T) {
	for _, v := range variants {
		t.Run(v.dir, func(t *testing.T) {
			b := build(t, v.dir)
			if got := len(b.all("CustomResourceDefinition")) == 1; got != v.crd {
				t.Errorf("has the RemediationRequest CRD = %v, want %v", got, v.crd)
			}
			// cert-manager: rrguard's CA from a self-signed Issuer, and
			// the webhook's and the gateway's certificates from the CA.
			hasCertManager := b.find("Certificate", "rrguard-ca") != nil && b.find("Certificate", certs.DefaultCertificateName) != nil &&
				(b.find("Certificate", gateway.DefaultCertificateName) != nil) != v.noGateway && len(b.all("Issuer")) == 2
			if hasCertManager != v.certManager || (!v.certManager && len(b.all("Certificate")) > 0) {
				t.Errorf("has cert-manager's CA, Issuers and both Certificates = %v, want %v", hasCertManager, v.certManager)
			}
			mode := "--cert-mode=self-signed"
			if v.certManager {
				mode = "--cert-mode=cert-manager"
			}
			for _, c := range v.components() {
				if got := b.find("Role", "rrguard-"+c+"-self-signed") != nil; got == v.certManager {
					t.Errorf("has the %s's self-signed Secret role = %v, want %v", c, got, !v.certManager)
				}
				if got := b.find("Role", "rrguard-"+c+"-certificate-reader") != nil; got != v.certManager {
					t.Errorf("has the %s's Certificate reader role = %v, want %v", c, got, v.certManager)
				}
				d := get[appsv1.Deployment](t, b, "Deployment", "rrguard-"+c)
				if !hasArg(d.Spec.Template.Spec.Containers[0], mode) {
					t.Errorf("%s args %v lack %s", c, d.Spec.Template.Spec.Containers[0].Args, mode)
				}
			}
			// The enforcement mode comes from the container's env, as the
			// rollout's `kubectl set env` changes it; deny unless changed.
			d := get[appsv1.Deployment](t, b, "Deployment", "rrguard-webhook")
			if args := expandedArgs(d.Spec.Template.Spec.Containers[0]); !slices.Contains(args, "--enforcement=deny") ||
				!slices.Contains(args, "--scan-interval=10m") {
				t.Errorf("webhook args %v, want --enforcement=deny and --scan-interval=10m", args)
			}
			for _, u := range b {
				if v.noGateway && (strings.Contains(u.GetName(), "gateway") || strings.Contains(u.GetName(), "signal-sender")) {
					t.Errorf("%s %s: the variant has no gateway", u.GetKind(), u.GetName())
				}
			}
			for _, u := range b {
				want := certs.DefaultNamespace
				if inRequestsNamespace(u) {
					want = v.requestsNamespace()
				}
				if ns := u.GetNamespace(); ns != "" && ns != want {
					t.Errorf("%s %s is in namespace %s, want %s", u.GetKind(), u.GetName(), ns, want)
				}
			}
			if v.requests != "" {
				// Installed beside kubernaut, whose namespace exists.
				ensureNamespace(t, v.requests)
			}
			if !v.noGateway {
				checkGatewayArgs(t, v, b)
			}
			apply(t, b)
		})
	}
	t.Run("examples/alertmanager", func(t *testing.T) { apply(t, build(t, "examples/alertmanager")) })
}

// checkGatewayArgs checks what v's gateway is told: --webhook-guarded where
// the webhook is installed, --namespace where it writes elsewhere,
// --require-managed-label where kubernaut's scope applies.
func checkGatewayArgs(t *testing.T, v variant, b built) {
	t.Helper()
	// The gateway skips the List before a new incident only because the
	// webhook Lists instead: both or neither.
	gw := get[appsv1.Deployment](t, b, "Deployment", "rrguard-gateway")
	guarded := hasArg(gw.Spec.Template.Spec.Containers[0], "--webhook-guarded")
	if hasWebhook := len(b.all("ValidatingWebhookConfiguration")) == 1; guarded != hasWebhook {
		t.Errorf("gateway --webhook-guarded = %v, but the variant installs the webhook = %v", guarded, hasWebhook)
	}
	if v.requests != "" && !hasArg(gw.Spec.Template.Spec.Containers[0], "--namespace="+v.requests) {
		t.Errorf("gateway args %v lack --namespace=%s", gw.Spec.Template.Spec.Containers[0].Args, v.requests)
	}
	if got := hasArg(gw.Spec.Template.Spec.Containers[0], "--require-managed-label"); got != v.managedScope {
		t.Errorf("gateway --require-managed-label = %v, want %v", got, v.managedScope)
	}
}

// The manifests register the webhook exactly as webhook.Configuration does
// in Go (which the webhook's own tests register with envtest): one source of
// truth checked against the other, field by field.
func TestWebhookConfigurationMatchesTheWebhookPackage(t *testing.T) {
	want := webhook.Configuration(webhook.ConfigurationOptions{})
	for _, v := range variants {
		t.Run(v.dir, func(t *testing.T) {
			b := build(t, v.dir)
			got := get[admissionregistrationv1.ValidatingWebhookConfiguration](t, b, "ValidatingWebhookConfiguration", want.Name)
			if got.Name != certs.DefaultWebhookConfigurationName {
				t.Errorf("name %s, but certs injects the CA into %s", got.Name, certs.DefaultWebhookConfigurationName)
			}
			if !equality.Semantic.DeepEqual(got.Webhooks, want.Webhooks) {
				t.Errorf("webhooks differ from webhook.Configuration() (- manifests, + Go):\n%s", diff.Diff(got.Webhooks, want.Webhooks))
			}

			// The fields the install must set, asserted one by one as well.
			if len(got.Webhooks) != 2 {
				t.Fatalf("%d webhooks, want CREATE and the status re-activation", len(got.Webhooks))
			}
			for _, w := range got.Webhooks {
				svc := w.ClientConfig.Service
				switch {
				case *w.FailurePolicy != admissionregistrationv1.Fail,
					*w.SideEffects != admissionregistrationv1.SideEffectClassNoneOnDryRun,
					*w.TimeoutSeconds != 5,
					*w.MatchPolicy != admissionregistrationv1.Equivalent,
					!slices.Equal(w.AdmissionReviewVersions, []string{"v1"}):
					t.Errorf("webhook %s: failurePolicy %s, sideEffects %s, timeoutSeconds %d, matchPolicy %s, admissionReviewVersions %v",
						w.Name, *w.FailurePolicy, *w.SideEffects, *w.TimeoutSeconds, *w.MatchPolicy, w.AdmissionReviewVersions)
				case svc == nil || svc.Name != certs.DefaultServiceName || svc.Namespace != certs.DefaultNamespace ||
					*svc.Path != "/validate-kubernaut-ai-v1alpha1-remediationrequest" || *svc.Port != 443:
					t.Errorf("webhook %s: clientConfig %+v", w.Name, w.ClientConfig)
				}
			}
			create, reactivate := got.Webhooks[0].Rules, got.Webhooks[1].Rules
			if len(create) != 1 || !slices.Equal(create[0].Operations, []admissionregistrationv1.OperationType{admissionregistrationv1.Create}) ||
				!slices.Equal(create[0].Resources, []string{"remediationrequests"}) || !slices.Equal(create[0].APIGroups, []string{"kubernaut.ai"}) {
				t.Errorf("first webhook's rules %+v, want CREATE of kubernaut.ai remediationrequests", create)
			}
			if len(reactivate) != 1 || !slices.Equal(reactivate[0].Operations, []admissionregistrationv1.OperationType{admissionregistrationv1.Update}) ||
				!slices.Equal(reactivate[0].Resources, []string{"remediationrequests/status"}) || len(got.Webhooks[1].MatchConditions) != 1 {
				t.Errorf("second webhook: rules %+v, matchConditions %+v; want UPDATE of remediationrequests/status under one matchCondition",
					reactivate, got.Webhooks[1].MatchConditions)
			}

			// The CA: cert-manager's cainjector reads the annotation; in
			// self-signed mode nothing may point it elsewhere.
			annotation := got.Annotations["cert-manager.io/inject-ca-from"]
			if v.certManager {
				crt := b.find("Certificate", certs.DefaultCertificateName)
				if crt == nil || annotation != crt.GetNamespace()+"/"+crt.GetName() {
					t.Errorf("inject-ca-from = %q, want the Certificate %s/%s", annotation, certs.DefaultNamespace, certs.DefaultCertificateName)
				}
			} else if annotation != "" {
				t.Errorf("self-signed variant has inject-ca-from = %q", annotation)
			}
		})
	}
}

// The names certs uses by default are the names the manifests give, so the
// webhook needs no flag to find its Secret, Service, Certificate and
// configuration.
func TestManifestNamesAreTheCertsDefaults(t *testing.T) {
	b := build(t, "default")
	if svc := b.find("Service", certs.DefaultServiceName); svc == nil {
		t.Errorf("no Service %s", certs.DefaultServiceName)
	}
	crt := b.find("Certificate", certs.DefaultCertificateName)
	if crt == nil {
		t.Fatalf("no Certificate %s", certs.DefaultCertificateName)
	}
	dnsNames, _, _ := unstructured.NestedStringSlice(crt.Object, "spec", "dnsNames")
	wantDNS := []string{certs.DefaultServiceName + "." + certs.DefaultNamespace + ".svc", certs.DefaultServiceName + "." + certs.DefaultNamespace + ".svc.cluster.local"}
	if !slices.Equal(dnsNames, wantDNS) {
		t.Errorf("Certificate dnsNames %v, want %v", dnsNames, wantDNS)
	}
	if secret, _, _ := unstructured.NestedString(crt.Object, "spec", "secretName"); secret != certs.DefaultSecretName {
		t.Errorf("Certificate secretName %s, want %s", secret, certs.DefaultSecretName)
	}
	d := get[appsv1.Deployment](t, b, "Deployment", "rrguard-webhook")
	if vol := d.Spec.Template.Spec.Volumes[0]; vol.Secret == nil || vol.Secret.SecretName != certs.DefaultSecretName {
		t.Errorf("webhook cert volume %+v, want Secret %s", vol, certs.DefaultSecretName)
	}
	reader := get[rbacv1.Role](t, b, "Role", "rrguard-webhook-certificate-reader")
	if !slices.Equal(reader.Rules[0].ResourceNames, []string{certs.DefaultCertificateName}) {
		t.Errorf("Certificate reader may read %v, want %s", reader.Rules[0].ResourceNames, certs.DefaultCertificateName)
	}

	s := build(t, "self-signed")
	sd := get[appsv1.Deployment](t, s, "Deployment", "rrguard-webhook")
	vol, mount := sd.Spec.Template.Spec.Volumes[0], sd.Spec.Template.Spec.Containers[0].VolumeMounts[0]
	if vol.EmptyDir == nil || vol.Secret != nil || mount.ReadOnly {
		t.Errorf("self-signed cert volume %+v mounted %+v, want a writable emptyDir", vol, mount)
	}
	secrets := get[rbacv1.Role](t, s, "Role", "rrguard-webhook-self-signed")
	if !slices.Equal(secrets.Rules[1].ResourceNames, []string{certs.DefaultSecretName}) {
		t.Errorf("self-signed role may read and update Secrets %v, want %s", secrets.Rules[1].ResourceNames, certs.DefaultSecretName)
	}
	inject := get[rbacv1.ClusterRole](t, s, "ClusterRole", "rrguard-webhook-ca-injection")
	if !slices.Equal(inject.Rules[0].ResourceNames, []string{certs.DefaultWebhookConfigurationName}) {
		t.Errorf("CA injection role may patch %v, want %s", inject.Rules[0].ResourceNames, certs.DefaultWebhookConfigurationName)
	}
}

// Likewise for the gateway: gateway.CertOptions names what the manifests
// install, and --tls-cert-path is where its certificate is mounted.
func TestGatewayCertificateNamesAreTheGatewayDefaults(t *testing.T) {
	want := gateway.CertOptions()
	b := build(t, "default")
	svc := get[corev1.Service](t, b, "Service", want.ServiceName)
	if p := svc.Spec.Ports; len(p) != 1 || p[0].Port != 443 || p[0].TargetPort.String() != "https" {
		t.Errorf("gateway Service ports %+v, want 443 to the https port", p)
	}
	crt := b.find("Certificate", want.CertificateName)
	if crt == nil {
		t.Fatalf("no Certificate %s", want.CertificateName)
	}
	dnsNames, _, _ := unstructured.NestedStringSlice(crt.Object, "spec", "dnsNames")
	if wantDNS := []string{want.ServiceName + "." + certs.DefaultNamespace + ".svc", want.ServiceName + "." + certs.DefaultNamespace + ".svc.cluster.local"}; !slices.Equal(dnsNames, wantDNS) {
		t.Errorf("gateway Certificate dnsNames %v, want %v", dnsNames, wantDNS)
	}
	if secret, _, _ := unstructured.NestedString(crt.Object, "spec", "secretName"); secret != want.SecretName {
		t.Errorf("gateway Certificate secretName %s, want %s", secret, want.SecretName)
	}
	reader := get[rbacv1.Role](t, b, "Role", "rrguard-gateway-certificate-reader")
	if !slices.Equal(reader.Rules[0].ResourceNames, []string{want.CertificateName}) {
		t.Errorf("gateway Certificate reader may read %v, want %s", reader.Rules[0].ResourceNames, want.CertificateName)
	}
	for _, dir := range []string{"default", "self-signed"} {
		d := get[appsv1.Deployment](t, build(t, dir), "Deployment", "rrguard-gateway")
		pod := d.Spec.Template.Spec
		c := pod.Containers[0]
		mount, vol := c.VolumeMounts[0], pod.Volumes[0]
		if !hasArg(c, "--tls-cert-path="+mount.MountPath) || mount.Name != vol.Name {
			t.Errorf("%s: --tls-cert-path is not where %s is mounted (%s): %v", dir, vol.Name, mount.MountPath, c.Args)
		}
		if dir == "default" && (vol.Secret == nil || vol.Secret.SecretName != want.SecretName || !mount.ReadOnly) {
			t.Errorf("default: gateway cert volume %+v, want the Secret %s read-only", vol, want.SecretName)
		}
		if dir == "self-signed" && (vol.EmptyDir == nil || mount.ReadOnly) {
			t.Errorf("self-signed: gateway cert volume %+v mounted %+v, want a writable emptyDir", vol, mount)
		}
	}
	secrets := get[rbacv1.Role](t, build(t, "self-signed"), "Role", "rrguard-gateway-self-signed")
	if !slices.Equal(secrets.Rules[1].ResourceNames, []string{want.SecretName}) {
		t.Errorf("gateway self-signed role may read and update Secrets %v, want %s", secrets.Rules[1].ResourceNames, want.SecretName)
	}
}

// The lease policy confines exactly the webhook's ServiceAccount, by its
// final name, in every variant (the rbac test shows it enforced).
func TestTheLeasePolicyNamesTheWebhooksServiceAccount(t *testing.T) {
	main, err := os.ReadFile(filepath.Join("..", "cmd", "webhook", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`LeaderElectionID:\s+kube\.WebhookLeaderElectionID,`).Match(main) {
		t.Fatalf("cmd/webhook no longer elects its janitor with kube.WebhookLeaderElectionID (%s), the Lease the lease policy allows", webhookLeaderElectionID)
	}
	for _, v := range variants {
		t.Run(v.dir, func(t *testing.T) {
			b := build(t, v.dir)
			d := get[appsv1.Deployment](t, b, "Deployment", "rrguard-webhook")
			vap := get[admissionregistrationv1.ValidatingAdmissionPolicy](t, b, "ValidatingAdmissionPolicy", "rrguard-webhook-leases")
			want := fmt.Sprintf("request.userInfo.username == 'system:serviceaccount:' + '%s' + ':' + '%s'", d.Namespace, d.Spec.Template.Spec.ServiceAccountName)
			if len(vap.Spec.MatchConditions) != 1 || vap.Spec.MatchConditions[0].Expression != want {
				t.Errorf("policy matchConditions %+v, want the one expression %s", vap.Spec.MatchConditions, want)
			}
			// The one other Lease it lets the webhook write is the one
			// cmd/webhook elects its janitor with.
			if len(vap.Spec.Validations) != 1 || !strings.Contains(vap.Spec.Validations[0].Expression, "'"+webhookLeaderElectionID+"'") {
				t.Errorf("policy validations %+v, want one allowing the Lease %s", vap.Spec.Validations, webhookLeaderElectionID)
			}
			binding := get[admissionregistrationv1.ValidatingAdmissionPolicyBinding](t, b, "ValidatingAdmissionPolicyBinding", "rrguard-webhook-leases")
			if binding.Spec.PolicyName != vap.Name || !slices.Equal(binding.Spec.ValidationActions, []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}) {
				t.Errorf("binding %+v, want Deny for policy %s", binding.Spec, vap.Name)
			}
		})
	}
}

// images reads a variant's images: the one place to retag.
func images(t *testing.T, dir string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k kustomizetypes.Kustomization
	if err := yaml.Unmarshal(raw, &k); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, img := range k.Images {
		out[img.Name] = img.NewName + ":" + img.NewTag
	}
	return out
}

func TestEveryPodIsHardenedAndHighlyAvailable(t *testing.T) {
	for _, v := range variants {
		t.Run(v.dir, func(t *testing.T) {
			b := build(t, v.dir)
			imgs := images(t, v.dir)
			if v.dir == "without-crd" || v.dir == "kubernaut" || v.dir == "kubernaut-webhook" {
				imgs = images(t, "default")
			}
			deployments := b.all("Deployment")
			if len(deployments) != len(v.components()) {
				t.Fatalf("%d Deployments, want one for each of %v", len(deployments), v.components())
			}
			for _, u := range deployments {
				d := typed[appsv1.Deployment](t, u)
				pod := d.Spec.Template.Spec
				if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
					t.Errorf("%s: replicas %v, want 2", d.Name, d.Spec.Replicas)
				}
				if sc := pod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot ||
					sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
					t.Errorf("%s: pod securityContext %+v, want runAsNonRoot and seccomp RuntimeDefault", d.Name, sc)
				}
				if a := pod.Affinity; a == nil || a.PodAntiAffinity == nil {
					t.Errorf("%s: no pod anti-affinity", d.Name)
				}
				if pod.ServiceAccountName != d.Name {
					t.Errorf("%s: runs as ServiceAccount %q, want its own", d.Name, pod.ServiceAccountName)
				}
				for _, c := range pod.Containers {
					sc := c.SecurityContext
					if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
						sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
						sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
						t.Errorf("%s/%s: securityContext %+v, want a read-only root, no privilege escalation, all capabilities dropped", d.Name, c.Name, sc)
					}
					for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
						if _, ok := c.Resources.Requests[r]; !ok {
							t.Errorf("%s/%s: no %s request", d.Name, c.Name, r)
						}
						if _, ok := c.Resources.Limits[r]; !ok {
							t.Errorf("%s/%s: no %s limit", d.Name, c.Name, r)
						}
					}
					if c.LivenessProbe == nil || c.ReadinessProbe == nil {
						t.Errorf("%s/%s: liveness %v, readiness %v; want both", d.Name, c.Name, c.LivenessProbe, c.ReadinessProbe)
					}
					if c.Image != imgs["rrguard"] {
						t.Errorf("%s/%s: image %s, want %s from the kustomization's images", d.Name, c.Name, c.Image, imgs["rrguard"])
					}
				}
				// A PDB keeps one of its pods through voluntary disruptions.
				pdbFound := false
				for _, p := range b.all("PodDisruptionBudget") {
					pdb := typed[policyv1.PodDisruptionBudget](t, p)
					sel := labels.SelectorFromSet(pdb.Spec.Selector.MatchLabels)
					if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
						pdbFound = pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.IntValue() == 1
					}
				}
				if !pdbFound {
					t.Errorf("%s: no PodDisruptionBudget with minAvailable 1 selects its pods", d.Name)
				}
			}

			// The webhook's Service: 443 to the container's 9443; the
			// gateway's: 443 to its 8443, TLS.
			servesOn(t, b, certs.DefaultServiceName, "rrguard-webhook", 9443, "--webhook-port=9443")
			if !v.noGateway {
				servesOn(t, b, gateway.DefaultServiceName, "rrguard-gateway", 8443, "--bind-address=:8443")
			}
		})
	}
}

// servesOn checks that the Service svc selects the pods of the Deployment
// deploy and sends its port 443 to their port container, on which the
// container's arg says it serves.
func servesOn(t *testing.T, b built, svc, deploy string, container int32, arg string) {
	t.Helper()
	s := get[corev1.Service](t, b, "Service", svc)
	d := get[appsv1.Deployment](t, b, "Deployment", deploy)
	port := s.Spec.Ports[0]
	var target int32
	for _, p := range d.Spec.Template.Spec.Containers[0].Ports {
		if p.Name == port.TargetPort.String() {
			target = p.ContainerPort
		}
	}
	if port.Port != 443 || target != container || !hasArg(d.Spec.Template.Spec.Containers[0], arg) {
		t.Errorf("%s Service %d -> %s (container port %d), want 443 -> %d", deploy, port.Port, port.TargetPort.String(), target, container)
	}
	if !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("the %s Service does not select its pods", deploy)
	}
}

// The image the Deployments run is the one the Dockerfile builds: every
// command is a binary it builds, and it runs as the user runAsUser names.
func TestTheDockerfileBuildsWhatTheDeploymentsRun(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	dockerfile := string(raw)
	for _, u := range build(t, "default").all("Deployment") {
		d := typed[appsv1.Deployment](t, u)
		for _, c := range d.Spec.Template.Spec.Containers {
			if len(c.Command) != 1 || !strings.HasPrefix(c.Command[0], "/") {
				t.Errorf("%s/%s: command %v, want one binary of the image", d.Name, c.Name, c.Command)
				continue
			}
			bin := strings.TrimPrefix(c.Command[0], "/")
			if !strings.Contains(dockerfile, "./cmd/"+bin) || !strings.Contains(dockerfile, "/out/"+bin) {
				t.Errorf("%s/%s runs /%s, which the Dockerfile does not build and copy", d.Name, c.Name, bin)
			}
			if _, err := os.Stat(filepath.Join("..", "cmd", bin)); err != nil {
				t.Errorf("%s/%s runs /%s: no cmd/%s: %v", d.Name, c.Name, bin, bin, err)
			}
		}
		if uid := d.Spec.Template.Spec.SecurityContext.RunAsUser; uid == nil || !strings.Contains(dockerfile, fmt.Sprintf("USER %d:", *uid)) {
			t.Errorf("%s: runAsUser %v is not the Dockerfile's USER", d.Name, uid)
		}
	}
	if !strings.Contains(dockerfile, "CGO_ENABLED=0") || !strings.Contains(dockerfile, "distroless/static") {
		t.Error("the Dockerfile should build static binaries onto a distroless static base")
	}
}

// The real API server's PodSecurity admission judges the pods: rrguard-system
// enforces the restricted standard, so a pod of each Deployment's template
// must be admitted there, and a pod stripped of its hardening refused.
func TestPodsMeetTheRestrictedPodSecurityStandard(t *testing.T) {
	ctx := context.Background()
	for _, v := range variants {
		t.Run(v.dir, func(t *testing.T) {
			b := build(t, v.dir)
			ns := get[corev1.Namespace](t, b, "Namespace", certs.DefaultNamespace)
			if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
				t.Fatalf("namespace labels %v, want the restricted standard enforced", ns.Labels)
			}
			var setup built
			setup = append(setup, b.all("Namespace")...)
			apply(t, append(setup, b.all("ServiceAccount")...))
			for _, u := range b.all("Deployment") {
				d := typed[appsv1.Deployment](t, u)
				pod := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Namespace: certs.DefaultNamespace, GenerateName: d.Name + "-pss-", Labels: map[string]string{"test": "pss"}},
					Spec:       *d.Spec.Template.Spec.DeepCopy(),
				}
				if err := env.Client.Create(ctx, pod, client.DryRunAll); err != nil {
					t.Errorf("%s: a pod of its template is refused: %v", d.Name, err)
				}
				weakened := pod.DeepCopy()
				weakened.Spec.SecurityContext.SeccompProfile = nil
				weakened.Spec.Containers[0].SecurityContext.Capabilities = nil
				if err := env.Client.Create(ctx, weakened, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "restricted") {
					t.Errorf("%s: a pod without seccomp and dropped capabilities was not refused as violating restricted: %v", d.Name, err)
				}
			}
		})
	}
}

// A gateway pod is given the time to answer every request in flight before
// it is killed: at least gateway.ShutdownTimeout of the --request-timeout it
// runs with (an answer cut off after its signal was counted makes the
// sender count it twice).
func TestTheGatewayPodOutlivesItsLatestAnswer(t *testing.T) {
	for _, v := range variants {
		if v.noGateway {
			continue
		}
		t.Run(v.dir, func(t *testing.T) {
			gw := get[appsv1.Deployment](t, build(t, v.dir), "Deployment", "rrguard-gateway")
			timeout := pipeline.DefaultTimeout
			for _, arg := range gw.Spec.Template.Spec.Containers[0].Args {
				if value, ok := strings.CutPrefix(arg, "--request-timeout="); ok {
					d, err := time.ParseDuration(value)
					if err != nil {
						t.Fatalf("%s: %v", arg, err)
					}
					timeout = d
				}
			}
			grace := time.Duration(ptr.Deref(gw.Spec.Template.Spec.TerminationGracePeriodSeconds, corev1.DefaultTerminationGracePeriodSeconds)) * time.Second
			if need := gateway.ShutdownTimeout(timeout); grace < need {
				t.Errorf("terminationGracePeriodSeconds is %s, want at least %s for --request-timeout=%s", grace, need, timeout)
			}
		})
	}
}
