package manifests

import (
	"context"
	"os"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rrguard/rrguard/dedup"
)

// breakGlassGroup is the one group besides the webhook's ServiceAccount that
// the claim policy lets write claims; manifests/README.md names it.
const breakGlassGroup = "rrguard:claim-break-glass"

// asUser returns a client that impersonates user in groups (and
// system:authenticated, as the API server adds it).
func asUser(t *testing.T, user string, groups ...string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: append(groups, "system:authenticated")}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// leaseAdmin grants user every verb on Leases in ns, as a tenant's
// namespace-admin Role does.
func leaseAdmin(t *testing.T, ns, user string) {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lease-admin-" + strings.ReplaceAll(user, ":", "-")},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"*"}}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: role.ObjectMeta,
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: user}}}
	for _, o := range []client.Object{role, binding} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
}

// claimIn is a claim Lease in ns, as the webhook writes it.
func claimIn(ns, fp, holder string) *coordinationv1.Lease {
	return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: dedup.ClaimName(fp)},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder)}}
}

// takeOver reads the Lease l through c and hands it to holder.
func takeOver(ctx context.Context, c client.Client, l *coordinationv1.Lease, holder string) error {
	cur := &coordinationv1.Lease{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(l), cur); err != nil {
		return err
	}
	cur.Spec.HolderIdentity = ptr.To(holder)
	return c.Update(ctx, cur)
}

// A tenant whose Role grants every verb on Leases in its namespace can
// neither forge, take over nor delete a claim there (one at a time or all
// at once), nor can a cluster administrator; the webhook's ServiceAccount
// and the break-glass group can, and everyone may delete the claims of a
// namespace being deleted. The tenant's other Leases are untouched by the
// policy.
func TestOnlyTheWebhookAndTheBreakGlassGroupWriteClaims(t *testing.T) {
	ctx := context.Background()
	// The policies alone: the components' RBAC is the RBAC tests' (one of
	// them holds that the kubernaut variant's is not applied), and every
	// principal here gets the same Lease rights in the tenant's namespace.
	var policies built
	for _, u := range build(t, "default") {
		if u.GetKind() == "ValidatingAdmissionPolicy" || u.GetKind() == "ValidatingAdmissionPolicyBinding" {
			policies = append(policies, u)
		}
	}
	apply(t, policies)
	tenantNS := env.Namespace(t)
	const tenantUser, rescuer = "tenant-admin", "on-call"
	for _, u := range []string{tenantUser, rescuer, "system:serviceaccount:" + system + ":rrguard-webhook"} {
		leaseAdmin(t, tenantNS, u)
	}
	tenant, breakGlass := asUser(t, tenantUser), asUser(t, rescuer, breakGlassGroup)
	webhookSA := as(t, "rrguard-webhook")

	fp := strings.Repeat("cd", 32)
	claim := claimIn(tenantNS, fp, "rr-of-the-incident")
	// The policy reaches admission a moment after it is applied; a dry
	// run is admitted like a write and stores nothing.
	waitRefused(t, func() error { return tenant.Create(ctx, claim.DeepCopy(), client.DryRunAll) })
	if err := webhookSA.Create(ctx, claim.DeepCopy()); err != nil {
		t.Fatalf("the webhook creates a claim: %v", err)
	}
	theirs := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: tenantNS, Name: "tenants-leader-election"}}

	t.Run("tenant", func(t *testing.T) {
		run(t, tenant, []check{
			{"forge a claim", func(ctx context.Context, c client.Client) error {
				return c.Create(ctx, claimIn(tenantNS, strings.Repeat("ef", 32), "an-rr-of-another-fingerprint"))
			}, false},
			{"forge a claim by generateName", func(ctx context.Context, c client.Client) error {
				return c.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: tenantNS, GenerateName: dedup.ClaimPrefix}})
			}, false},
			{"hand a claim to another RR", func(ctx context.Context, c client.Client) error { return takeOver(ctx, c, claim, "forged") }, false},
			{"delete a claim", func(ctx context.Context, c client.Client) error { return c.Delete(ctx, claim.DeepCopy()) }, false},
			{"delete every Lease of the namespace", func(ctx context.Context, c client.Client) error {
				return c.DeleteAllOf(ctx, &coordinationv1.Lease{}, client.InNamespace(tenantNS))
			}, false},
			{"create, update and delete a Lease of its own", func(ctx context.Context, c client.Client) error {
				l := theirs.DeepCopy()
				if err := c.Create(ctx, l); err != nil {
					return err
				}
				if err := renew(ctx, c, l); err != nil {
					return err
				}
				return c.Delete(ctx, l)
			}, true},
		})
		if l := (&coordinationv1.Lease{}); env.Client.Get(ctx, client.ObjectKeyFromObject(claim), l) != nil || ptr.Deref(l.Spec.HolderIdentity, "") != "rr-of-the-incident" {
			t.Errorf("the claim after the tenant's attempts: %+v, want it as the webhook wrote it", l.Spec)
		}
	})
	t.Run("cluster administrator", func(t *testing.T) {
		run(t, env.Client, []check{
			{"hand a claim to another RR", func(ctx context.Context, c client.Client) error { return takeOver(ctx, c, claim, "forged") }, false},
			{"delete a claim", func(ctx context.Context, c client.Client) error { return c.Delete(ctx, claim.DeepCopy()) }, false},
		})
	})
	t.Run("webhook", func(t *testing.T) {
		run(t, webhookSA, []check{
			{"take a claim over", func(ctx context.Context, c client.Client) error { return takeOver(ctx, c, claim, "next-incident") }, true},
		})
	})
	t.Run("break-glass group", func(t *testing.T) {
		run(t, breakGlass, []check{
			{"repair a claim", func(ctx context.Context, c client.Client) error { return takeOver(ctx, c, claim, "repaired") }, true},
			{"delete a claim", func(ctx context.Context, c client.Client) error { return c.Delete(ctx, claim.DeepCopy()) }, true},
			{"create a claim", func(ctx context.Context, c client.Client) error { return c.Create(ctx, claim.DeepCopy()) }, true},
		})
	})
	// The namespace controller empties a namespace being deleted, claims
	// included; no RR can be created there any more.
	t.Run("namespace being deleted", func(t *testing.T) {
		if err := env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tenantNS}}); err != nil {
			t.Fatal(err)
		}
		run(t, tenant, []check{
			{"delete a claim", func(ctx context.Context, c client.Client) error { return c.Delete(ctx, claim.DeepCopy()) }, true},
		})
	})
}

// The claim policy exempts exactly the webhook's ServiceAccount, by its
// final name, and the break-glass group the README names, in every variant
// (TestOnlyTheWebhookAndTheBreakGlassGroupWriteClaims shows it enforced).
func TestTheClaimPolicyExemptsOnlyTheWebhookAndTheBreakGlassGroup(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "`"+breakGlassGroup+"`") {
		t.Errorf("manifests/README.md does not name the break-glass group %s", breakGlassGroup)
	}
	for _, v := range variants {
		t.Run(v.dir, func(t *testing.T) {
			b := build(t, v.dir)
			d := get[appsv1.Deployment](t, b, "Deployment", "rrguard-webhook")
			vap := get[admissionregistrationv1.ValidatingAdmissionPolicy](t, b, "ValidatingAdmissionPolicy", "rrguard-claim-leases")
			conds := vap.Spec.MatchConditions
			sa := "request.userInfo.username != 'system:serviceaccount:' + '" + d.Namespace + "' + ':' + '" + d.Spec.Template.Spec.ServiceAccountName + "'"
			if len(conds) != 3 || !strings.Contains(conds[0].Expression, "startsWith('"+dedup.ClaimPrefix+"')") ||
				conds[1].Expression != sa || !strings.Contains(conds[2].Expression, "'"+breakGlassGroup+"' in request.userInfo.groups") {
				t.Errorf("policy matchConditions %+v, want: a claim, not %s, not in %s", conds, sa, breakGlassGroup)
			}
			if *vap.Spec.FailurePolicy != admissionregistrationv1.Fail {
				t.Errorf("failurePolicy %s, want Fail", *vap.Spec.FailurePolicy)
			}
			binding := get[admissionregistrationv1.ValidatingAdmissionPolicyBinding](t, b, "ValidatingAdmissionPolicyBinding", "rrguard-claim-leases")
			if binding.Spec.PolicyName != vap.Name || len(binding.Spec.ValidationActions) != 1 || binding.Spec.ValidationActions[0] != admissionregistrationv1.Deny {
				t.Errorf("binding %+v, want Deny for policy %s", binding.Spec, vap.Name)
			}
		})
	}
}
