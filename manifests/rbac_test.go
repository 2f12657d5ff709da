package manifests

import (
	"context"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/certs"
	"github.com/rrguard/rrguard/counter"
	"github.com/rrguard/rrguard/gateway"
	"github.com/rrguard/rrguard/gateway/scope"
	"github.com/rrguard/rrguard/internal/kube"
	"github.com/rrguard/rrguard/test/testenv"
)

const system = certs.DefaultNamespace

// updateStatus is a check that updates the status of the RR ns/name as read
// by an administrator.
func updateStatus(ns, name string) func(context.Context, client.Client) error {
	return func(ctx context.Context, c client.Client) error {
		rr := &v1alpha1.RemediationRequest{}
		if err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, rr); err != nil {
			return err
		}
		rr.Status.OverallPhase = "Completed"
		return c.Status().Update(ctx, rr)
	}
}

// watch opens a watch of list with c and stops it: whether c may watch is
// under test.
func watch(ctx context.Context, c client.Client, list client.ObjectList, opts ...client.ListOption) error {
	w, err := c.(client.WithWatch).Watch(ctx, list, opts...)
	if err == nil {
		w.Stop()
	}
	return err
}

// patchCount patches rr's count, unconditioned: authorization is under test.
func patchCount(ctx context.Context, c client.Client, rr *v1alpha1.RemediationRequest) error {
	return c.Status().Patch(ctx, rr, client.RawPatch(types.MergePatchType, []byte(`{"status":{"deduplication":{"occurrenceCount":2}}}`)))
}

// countsOn is the check of what the gateway does with RRs in ns: create
// one named name, get it, list and watch them, and patch its count.
func countsOn(ns, name string) func(context.Context, client.Client) error {
	return func(ctx context.Context, c client.Client) error {
		rr := testenv.RemediationRequest(ns, name, anyFingerprint)
		if err := c.Create(ctx, rr); err != nil {
			return err
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(rr), rr); err != nil {
			return err
		}
		if err := c.List(ctx, &v1alpha1.RemediationRequestList{}, client.InNamespace(ns),
			client.MatchingFields{v1alpha1.FingerprintField: rr.Spec.SignalFingerprint}); err != nil {
			return err
		}
		if err := watch(ctx, c, &v1alpha1.RemediationRequestList{}, client.InNamespace(ns)); err != nil {
			return err
		}
		return c.Status().Patch(ctx, rr, counter.DeduplicationPatch(rr.ResourceVersion, 2, time.Now(), time.Now()))
	}
}

// servingCertChecks are what a binary may do with its serving certificate
// in system: read its cert-manager Certificate, create and update its
// self-signed Secret.
func servingCertChecks(certificateName, secretName string) []check {
	key := types.NamespacedName{Namespace: system, Name: secretName}
	return []check{
		{"read its cert-manager Certificate", func(ctx context.Context, c client.Client) error {
			return c.Get(ctx, client.ObjectKeyFromObject(certificate(system, certificateName)), certificate(system, certificateName))
		}, true},
		{"create its self-signed Secret", func(ctx context.Context, c client.Client) error {
			return c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}})
		}, true},
		{"get and update its self-signed Secret", func(ctx context.Context, c client.Client) error {
			s := &corev1.Secret{}
			if err := c.Get(ctx, key, s); err != nil {
				return err
			}
			s.Data = map[string][]byte{"ca.crt": []byte("x")}
			return c.Update(ctx, s)
		}, true},
	}
}

// as returns a client that impersonates the ServiceAccount sa of
// rrguard-system, with the groups the API server gives a ServiceAccount.
func as(t *testing.T, sa string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + system + ":" + sa,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + system, "system:authenticated"},
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// applyRBAC applies the RBAC of every variant and the Alertmanager example
// (the namespace, ServiceAccounts, roles and bindings, and the lease policy
// only).
func applyRBAC(t *testing.T) {
	t.Helper()
	rbacKinds := map[string]bool{"Namespace": true, "ServiceAccount": true, "Role": true, "ClusterRole": true, "RoleBinding": true, "ClusterRoleBinding": true,
		"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true}
	var objs built
	for _, dir := range []string{"default", "self-signed", "examples/alertmanager"} {
		for _, u := range build(t, dir) {
			if rbacKinds[u.GetKind()] {
				objs = append(objs, u)
			}
		}
	}
	apply(t, objs)
}

// anyFingerprint is a valid fingerprint: RBAC, not deduplication, is under
// test here.
var anyFingerprint = strings.Repeat("ab", 32)

// check is one request made as a ServiceAccount, and whether RBAC must let
// it through.
type check struct {
	what    string
	do      func(ctx context.Context, c client.Client) error
	allowed bool
}

// run makes each request and compares RBAC's answer. Authorization comes
// before everything else, so NotFound, AlreadyExists or Conflict mean RBAC
// let the request through, and only Forbidden means it refused.
func run(t *testing.T, c client.Client, checks []check) {
	t.Helper()
	ctx := context.Background()
	for _, ch := range checks {
		err := ch.do(ctx, c)
		switch {
		case apierrors.IsForbidden(err):
			if ch.allowed {
				t.Errorf("%s: refused, want allowed: %v", ch.what, err)
			}
		case err == nil || apierrors.IsNotFound(err) || apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err):
			if !ch.allowed {
				t.Errorf("%s: allowed (%v), want refused", ch.what, err)
			}
		default:
			t.Errorf("%s: unexpected error: %v", ch.what, err)
		}
	}
}

func certificate(ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("cert-manager.io/v1")
	u.SetKind("Certificate")
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

func metadataOf(apiVersion, kind string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}}
}

// webhookLeaderElectionID is cmd/webhook's LeaderElectionID, the one Lease
// besides claims the lease policy lets the webhook write.
const webhookLeaderElectionID = kube.WebhookLeaderElectionID

// existingLease creates the Lease ns/name as an administrator (and ns, if
// missing) and returns it.
func existingLease(t *testing.T, ns, name string) *coordinationv1.Lease {
	t.Helper()
	ctx := context.Background()
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(name + "-holder")}}
	if err := env.Client.Create(ctx, l); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	return l
}

// renew reads the Lease l through c and writes it back with a new renew
// time, as a heartbeat or a leader does.
func renew(ctx context.Context, c client.Client, l *coordinationv1.Lease) error {
	cur := &coordinationv1.Lease{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(l), cur); err != nil {
		return err
	}
	cur.Spec.RenewTime = ptr.To(metav1.NowMicro())
	return c.Update(ctx, cur)
}

// waitRefused retries do until it is Forbidden, for up to 30 s.
func waitRefused(t *testing.T, do func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err = do(); apierrors.IsForbidden(err) {
			return
		}
	}
	t.Fatalf("still not refused after 30s: %v", err)
}

func TestRBACLetsEachComponentDoItsJobAndNothingElse(t *testing.T) {
	ctx := context.Background()
	applyRBAC(t)
	admin := env.Client

	// No webhook serves in this test, so its configuration (applied by
	// another test) would refuse every RemediationRequest: replace it by an
	// empty one of the same name, for the CA-injection check.
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: certs.DefaultWebhookConfigurationName}}
	_ = admin.Delete(ctx, vwc)
	vwc = &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: certs.DefaultWebhookConfigurationName}}
	if err := admin.Create(ctx, vwc); err != nil {
		t.Fatal(err)
	}
	other := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "someone-elses-webhook"}}
	if err := admin.Create(ctx, other); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}

	tenant := env.Namespace(t) // a namespace where someone created an RR
	if err := admin.Create(ctx, testenv.RemediationRequest(tenant, "rr-of-a-tenant", anyFingerprint)); err != nil {
		t.Fatalf("create RR: %v", err)
	}
	claim := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "rrclaim-" + strings.Repeat("ab", 32)},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("rr-of-a-tenant")}}
	secretKey := types.NamespacedName{Namespace: system, Name: certs.DefaultSecretName}
	// Leases that are not claims, as a cluster has them: a node's
	// heartbeat, a control-plane component's leader election, a tenant's.
	heartbeat := existingLease(t, "kube-node-lease", "node-1")
	controllerManager := existingLease(t, "kube-system", "kube-controller-manager")
	tenantsLease := existingLease(t, tenant, "someones-leader-election")
	webhookSA := as(t, "rrguard-webhook")
	// The policy reaches the API server's admission a moment after it is
	// applied: wait until it refuses the webhook's heartbeat update.
	waitRefused(t, func() error { return renew(ctx, webhookSA, heartbeat) })
	// The test of every variant applied the kubernaut variants' grant to
	// count too; the webhook of the others has none.
	_ = admin.Delete(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: webhookCounter}})
	waitRefused(t, func() error {
		return patchCount(ctx, webhookSA, testenv.RemediationRequest(tenant, "rr-of-a-tenant", anyFingerprint))
	})

	t.Run("webhook", func(t *testing.T) {
		run(t, webhookSA, append([]check{
			{"get an RR in any namespace", func(ctx context.Context, c client.Client) error {
				return c.Get(ctx, types.NamespacedName{Namespace: tenant, Name: "rr-of-a-tenant"}, &v1alpha1.RemediationRequest{})
			}, true},
			{"list RRs in every namespace", func(ctx context.Context, c client.Client) error {
				return c.List(ctx, &v1alpha1.RemediationRequestList{})
			}, true},
			{"watch RRs in every namespace (the fingerprint index)", func(ctx context.Context, c client.Client) error {
				return watch(ctx, c, &v1alpha1.RemediationRequestList{})
			}, true},
			{"create a claim Lease in the RR's namespace", func(ctx context.Context, c client.Client) error { return c.Create(ctx, claim.DeepCopy()) }, true},
			{"take a claim over (update)", func(ctx context.Context, c client.Client) error {
				l := &coordinationv1.Lease{}
				if err := c.Get(ctx, client.ObjectKeyFromObject(claim), l); err != nil {
					return err
				}
				l.Spec.HolderIdentity = ptr.To("another-rr")
				return c.Update(ctx, l)
			}, true},
			{"list claims in every namespace (janitor)", func(ctx context.Context, c client.Client) error {
				return c.List(ctx, &coordinationv1.LeaseList{})
			}, true},
			{"delete a stale claim (janitor)", func(ctx context.Context, c client.Client) error { return c.Delete(ctx, claim.DeepCopy()) }, true},
			{"take its leader-election Lease in its namespace, and renew it", func(ctx context.Context, c client.Client) error {
				l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: system, Name: webhookLeaderElectionID}}
				if err := c.Create(ctx, l); err != nil && !apierrors.IsAlreadyExists(err) {
					return err
				}
				return renew(ctx, c, l)
			}, true},
			{"record a leader-election event", func(ctx context.Context, c client.Client) error {
				return c.Create(ctx, &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: system, GenerateName: "leader-"},
					EventTime: metav1.NowMicro(), ReportingController: "rrguard-webhook", ReportingInstance: "x", Action: "Leader", Reason: "LeaderElection",
					Regarding: corev1.ObjectReference{Kind: "Lease", Namespace: system, Name: "rrguard-webhook-leader"}, Type: "Normal"})
			}, true},
			{"watch namespaces' metadata (enforcement label)", func(ctx context.Context, c client.Client) error {
				return watch(ctx, c, &metav1.PartialObjectMetadataList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "NamespaceList"}})
			}, true},
			{"record an Event on an RR of a duplicate set (scan)", func(ctx context.Context, c client.Client) error {
				return c.Create(ctx, &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, GenerateName: "rr-of-a-tenant-"},
					EventTime: metav1.NowMicro(), ReportingController: "rrguard-scan", ReportingInstance: "x", Action: "Scan", Reason: "DuplicateActiveRemediationRequest",
					Regarding: corev1.ObjectReference{APIVersion: "kubernaut.ai/v1alpha1", Kind: "RemediationRequest", Namespace: tenant, Name: "rr-of-a-tenant"}, Type: "Warning"})
			}, true},
			{"label a namespace", func(ctx context.Context, c client.Client) error {
				return c.Patch(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tenant}},
					client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"x":"y"}}}`)))
			}, false},
			{"inject the CA bundle into its own webhook configuration", func(ctx context.Context, c client.Client) error {
				return c.Patch(ctx, vwc.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"injected":"yes"}}}`)))
			}, true},
			{"create a TokenReview (who scrapes /metrics)", func(ctx context.Context, c client.Client) error {
				return c.Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: "not-a-token"}})
			}, true},
			{"create a SubjectAccessReview (may they get /metrics)", func(ctx context.Context, c client.Client) error {
				return c.Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: "someone",
					NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"}}})
			}, true},

			{"renew a node's heartbeat Lease in kube-node-lease", func(ctx context.Context, c client.Client) error {
				return renew(ctx, c, heartbeat)
			}, false},
			{"take kube-controller-manager's leader-election Lease", func(ctx context.Context, c client.Client) error {
				return renew(ctx, c, controllerManager)
			}, false},
			{"update a tenant's Lease that is not a claim", func(ctx context.Context, c client.Client) error {
				return renew(ctx, c, tenantsLease)
			}, false},
			{"delete a tenant's Lease that is not a claim", func(ctx context.Context, c client.Client) error {
				return c.Delete(ctx, tenantsLease.DeepCopy())
			}, false},
			{"create a Lease not named rrclaim-* in an RR's namespace", func(ctx context.Context, c client.Client) error {
				return c.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "not-a-claim"}})
			}, false},
			{"create its leader-election Lease's name in another namespace", func(ctx context.Context, c client.Client) error {
				return c.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: webhookLeaderElectionID}})
			}, false},
			{"create an RR", func(ctx context.Context, c client.Client) error {
				return c.Create(ctx, testenv.RemediationRequest(tenant, "by-the-webhook", anyFingerprint))
			}, false},
			{"delete an RR", func(ctx context.Context, c client.Client) error {
				return c.Delete(ctx, testenv.RemediationRequest(tenant, "rr-of-a-tenant", anyFingerprint))
			}, false},
			{"update an RR's status", updateStatus(tenant, "rr-of-a-tenant"), false},
			{"patch an RR's count (only the kubernaut variants let it count)", func(ctx context.Context, c client.Client) error {
				return patchCount(ctx, c, testenv.RemediationRequest(tenant, "rr-of-a-tenant", anyFingerprint))
			}, false},
			{"read another Secret of its namespace", func(ctx context.Context, c client.Client) error {
				return c.Get(ctx, types.NamespacedName{Namespace: system, Name: "someone-elses"}, &corev1.Secret{})
			}, false},
			{"list Secrets", func(ctx context.Context, c client.Client) error {
				return c.List(ctx, &corev1.SecretList{}, client.InNamespace(system))
			}, false},
			{"create a Secret in another namespace", func(ctx context.Context, c client.Client) error {
				return c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "x"}})
			}, false},
			{"read another Certificate", func(ctx context.Context, c client.Client) error {
				return c.Get(ctx, client.ObjectKeyFromObject(certificate(system, "other")), certificate(system, "other"))
			}, false},
			{"patch another webhook configuration", func(ctx context.Context, c client.Client) error {
				return c.Patch(ctx, other.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"injected":"yes"}}}`)))
			}, false},
		}, servingCertChecks(certs.DefaultCertificateName, certs.DefaultSecretName)...))
	})

	t.Run("gateway", func(t *testing.T) {
		run(t, as(t, "rrguard-gateway"), append([]check{
			{"create, get, list, watch RRs and count on their status in its namespace", countsOn(system, "by-the-gateway"), true},
			{"update an RR's status (the gateway only patches its count)", updateStatus(system, "by-the-gateway"), false},
			{"read a claim", func(ctx context.Context, c client.Client) error {
				return c.Get(ctx, types.NamespacedName{Namespace: system, Name: "rrclaim-x"}, &coordinationv1.Lease{})
			}, true},
			{"create a TokenReview", func(ctx context.Context, c client.Client) error {
				return c.Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: "not-a-token"}})
			}, true},
			{"create a SubjectAccessReview", func(ctx context.Context, c client.Client) error {
				return c.Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: "someone",
					NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/api/v1/signals/prometheus", Verb: "post"}}})
			}, true},
			{"read the metadata of every kind target resolution names, in any namespace", func(ctx context.Context, c client.Client) error {
				for _, m := range []*metav1.PartialObjectMetadata{
					metadataOf("v1", "Pod"), metadataOf("apps/v1", "ReplicaSet"), metadataOf("apps/v1", "Deployment"),
					metadataOf("apps/v1", "StatefulSet"), metadataOf("apps/v1", "DaemonSet"), metadataOf("batch/v1", "Job"),
					metadataOf("batch/v1", "CronJob"), metadataOf("v1", "PersistentVolumeClaim"), metadataOf("v1", "ResourceQuota"),
					metadataOf("autoscaling/v2", "HorizontalPodAutoscaler"), metadataOf("policy/v1", "PodDisruptionBudget"),
				} {
					if err := c.Get(ctx, types.NamespacedName{Namespace: tenant, Name: "x"}, m); err != nil && !apierrors.IsNotFound(err) {
						return err
					}
				}
				for _, m := range []*metav1.PartialObjectMetadata{metadataOf("v1", "Node"), metadataOf("v1", "PersistentVolume")} {
					if err := c.Get(ctx, types.NamespacedName{Name: "x"}, m); err != nil && !apierrors.IsNotFound(err) {
						return err
					}
				}
				return nil
			}, true},
			{"read the metadata of every kind whose managed label scope reads (--require-managed-label)", func(ctx context.Context, c client.Client) error {
				for _, gvk := range scope.ObjectKinds() {
					m := metadataOf(gvk.GroupVersion().String(), gvk.Kind)
					if err := c.Get(ctx, types.NamespacedName{Namespace: tenant, Name: "x"}, m); err != nil && !apierrors.IsNotFound(err) {
						return err
					}
				}
				return nil
			}, true},
			{"read a Secret's metadata (scope leaves Secrets to their namespace)", func(ctx context.Context, c client.Client) error {
				return c.Get(ctx, types.NamespacedName{Namespace: tenant, Name: "x"}, metadataOf("v1", "Secret"))
			}, false},
			{"read a ConfigMap's metadata (scope leaves ConfigMaps to their namespace)", func(ctx context.Context, c client.Client) error {
				return c.Get(ctx, types.NamespacedName{Namespace: tenant, Name: "x"}, metadataOf("v1", "ConfigMap"))
			}, false},
			{"read a Service (its selector) and a Node (its addresses)", func(ctx context.Context, c client.Client) error {
				if err := c.Get(ctx, types.NamespacedName{Namespace: tenant, Name: "x"}, &corev1.Service{}); err != nil && !apierrors.IsNotFound(err) {
					return err
				}
				if err := c.Get(ctx, types.NamespacedName{Name: "x"}, &corev1.Node{}); err != nil && !apierrors.IsNotFound(err) {
					return err
				}
				return nil
			}, true},
			{"list the metadata of the Pods a Service selects", func(ctx context.Context, c client.Client) error {
				return c.List(ctx, &metav1.PartialObjectMetadataList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodList"}},
					client.InNamespace(tenant), client.MatchingLabels{"app": "web"})
			}, true},
			{"list EndpointSlices of every namespace (where a series was scraped from)", func(ctx context.Context, c client.Client) error {
				return c.List(ctx, &discoveryv1.EndpointSliceList{}, client.MatchingLabels{discoveryv1.LabelServiceName: "kube-state-metrics"})
			}, true},
			{"watch Pods", func(ctx context.Context, c client.Client) error {
				return watch(ctx, c, &metav1.PartialObjectMetadataList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodList"}}, client.InNamespace(tenant))
			}, false},

			{"delete an RR", func(ctx context.Context, c client.Client) error {
				return c.Delete(ctx, testenv.RemediationRequest(system, "by-the-gateway", anyFingerprint))
			}, false},
			{"change an RR's spec", func(ctx context.Context, c client.Client) error {
				rr := &v1alpha1.RemediationRequest{}
				if err := c.Get(ctx, types.NamespacedName{Namespace: system, Name: "by-the-gateway"}, rr); err != nil {
					return err
				}
				rr.Spec.Severity = "warning"
				return c.Update(ctx, rr)
			}, false},
			{"create an RR in another namespace", func(ctx context.Context, c client.Client) error {
				return c.Create(ctx, testenv.RemediationRequest(tenant, "elsewhere", anyFingerprint))
			}, false},
			{"list RRs of every namespace", func(ctx context.Context, c client.Client) error {
				return c.List(ctx, &v1alpha1.RemediationRequestList{})
			}, false},
			{"write a claim", func(ctx context.Context, c client.Client) error {
				return c.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: system, Name: "rrclaim-by-gateway"}})
			}, false},
			{"read the webhook's Secret", func(ctx context.Context, c client.Client) error { return c.Get(ctx, secretKey, &corev1.Secret{}) }, false},
			{"read the webhook's Certificate", func(ctx context.Context, c client.Client) error {
				return c.Get(ctx, client.ObjectKeyFromObject(certificate(system, certs.DefaultCertificateName)), certificate(system, certs.DefaultCertificateName))
			}, false},
			{"renew a node's heartbeat Lease", func(ctx context.Context, c client.Client) error { return renew(ctx, c, heartbeat) }, false},
			{"list Secrets", func(ctx context.Context, c client.Client) error {
				return c.List(ctx, &corev1.SecretList{}, client.InNamespace(system))
			}, false},
			// Self-signed mode creates its Secret, and a Role cannot
			// restrict create to a name: create is namespace-wide, as for
			// the webhook, but nowhere else.
			{"create a Secret in another namespace", func(ctx context.Context, c client.Client) error {
				return c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "gw"}})
			}, false},
		}, servingCertChecks(gateway.DefaultCertificateName, gateway.DefaultSecretName)...))
	})

	// The example binding lets Alertmanager's ServiceAccount post signals,
	// and nothing else, as the gateway's SubjectAccessReview will ask.
	t.Run("signal sender", func(t *testing.T) {
		for _, tc := range []struct {
			user, path, verb string
			want             bool
		}{
			{"system:serviceaccount:monitoring:alertmanager-main", "/api/v1/signals/prometheus", "post", true},
			{"system:serviceaccount:monitoring:alertmanager-main", "/api/v1/signals/kubernetes-event", "post", true},
			{"system:serviceaccount:monitoring:alertmanager-main", "/api/v1/signals/other", "post", false},
			{"system:serviceaccount:monitoring:alertmanager-main", "/metrics", "get", false},
			{"system:serviceaccount:monitoring:grafana", "/api/v1/signals/prometheus", "post", false},
		} {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: tc.user,
				Groups:                []string{"system:serviceaccounts", "system:authenticated"},
				NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: tc.path, Verb: tc.verb}}}
			if err := admin.Create(ctx, sar); err != nil {
				t.Fatal(err)
			}
			if sar.Status.Allowed != tc.want {
				t.Errorf("%s %s by %s: allowed %v, want %v (%s)", tc.verb, tc.path, tc.user, sar.Status.Allowed, tc.want, sar.Status.Reason)
			}
		}
	})
}
