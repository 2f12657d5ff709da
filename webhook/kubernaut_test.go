package webhook_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
	"github.com/rrguard/rrguard/webhook"
)

// kubernautNamespace is where kubernaut's chart runs its gateway and API
// frontend, under ServiceAccounts of those names.
const kubernautNamespace = "kubernaut-system"

// as returns a client that creates RemediationRequests once, as user: the
// API server authenticates the test's admin and then acts as user, who is
// in system:masters so that RBAC is no part of what is tested.
func as(t testing.TB, user string) *testenv.OnceClient {
	t.Helper()
	c, err := env.OnceClient(func(cfg *rest.Config) {
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:masters", "system:authenticated"}}
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDuplicateDeniedAsExistingToCountedCreators: kubernaut's gateway and
// API frontend get a Duplicate denial that apimachinery's IsAlreadyExists
// recognises — what their create paths and kubernaut's circuit breaker take
// as "the request exists" — still naming the holder, HTTP 409 (what the API
// frontend tells its user to retry on, and its retry's own check then names
// the holder), and still read back by DenialFromError. Everyone else,
// rrguard's gateway included, keeps Conflict; a reactivation keeps Conflict
// whoever asks.
func TestDuplicateDeniedAsExistingToCountedCreators(t *testing.T) {
	suite.Replace(t, webhooktest.Options{Webhook: webhook.Options{CountedCreators: webhook.KubernautCreators(kubernautNamespace)}})
	ctx := context.Background()
	ns := env.Namespace(t)
	fp := newFingerprint(t)
	holder := testenv.RemediationRequest(ns, "holder", fp)
	if err := create(ctx, holder, false); err != nil {
		t.Fatalf("create the holder: %v", err)
	}

	for _, c := range []struct {
		user   string
		reason string
	}{
		{"system:serviceaccount:" + kubernautNamespace + ":gateway", "AlreadyExists"},
		{"system:serviceaccount:" + kubernautNamespace + ":apifrontend", "AlreadyExists"},
		{"system:serviceaccount:rrguard-system:rrguard-gateway", "Conflict"},
		{"system:serviceaccount:other:gateway", "Conflict"},
		{"alice", "Conflict"},
	} {
		t.Run(c.user, func(t *testing.T) {
			err := as(t, c.user).Create(ctx, testenv.RemediationRequest(ns, "dup-"+strings.ReplaceAll(c.user, ":", "-"), fp), false)
			if err == nil {
				t.Fatal("created a duplicate")
			}
			if got := string(apierrors.ReasonForError(err)); got != c.reason {
				t.Errorf("reason = %q, want %q (%v)", got, c.reason, err)
			}
			if got := apierrors.IsAlreadyExists(err); got != (c.reason == "AlreadyExists") {
				t.Errorf("IsAlreadyExists = %v for reason %s", got, c.reason)
			}
			var se *apierrors.StatusError
			if !errors.As(err, &se) || se.ErrStatus.Code != http.StatusConflict {
				t.Errorf("err = %#v, want a *StatusError with code 409", err)
			} else if se.ErrStatus.Details == nil || se.ErrStatus.Details.Name != holder.Name {
				t.Errorf("details = %+v, want the holder %s named", se.ErrStatus.Details, holder.Name)
			}
			d, ok := dedup.DenialFromError(err)
			if !ok || d.Reason != dedup.ReasonDuplicate || d.Holder != holder.Name {
				t.Errorf("DenialFromError = %+v, %v; want Duplicate held by %s", d, ok, holder.Name)
			}
			if !strings.Contains(err.Error(), "RemediationRequest "+ns+"/"+holder.Name+" with fingerprint "+fp+" is active") {
				t.Errorf("message %q does not name the holder", err.Error())
			}
		})
	}

	// kubernaut's API frontend tells its user to retry on any 409; its
	// retry lists the namespace's requests and names the active one of the
	// fingerprint: the holder, and only it.
	list := &v1alpha1.RemediationRequestList{}
	if err := env.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var active []string
	for _, rr := range list.Items {
		if rr.Spec.SignalFingerprint == fp && dedup.IsActive(&rr) {
			active = append(active, rr.Name)
		}
	}
	if len(active) != 1 || active[0] != holder.Name {
		t.Errorf("a retry's list finds %v active, want only the holder %s", active, holder.Name)
	}

	// A reactivation beside the active holder is a Conflict even for
	// kubernaut: an update of an object that exists cannot be "already
	// exists", and kubernaut counts no signal by one.
	ended := testenv.RemediationRequest(ns, "ended", newFingerprint(t))
	if err := create(ctx, ended, false); err != nil {
		t.Fatal(err)
	}
	if err := updatePhase(ended, v1alpha1.PhaseCompleted); err != nil {
		t.Fatal(err)
	}
	second := testenv.RemediationRequest(ns, "second", ended.Spec.SignalFingerprint)
	if err := create(ctx, second, false); err != nil {
		t.Fatalf("create after the end: %v", err)
	}
	ended.Status.OverallPhase = v1alpha1.PhaseExecuting
	err := as(t, "system:serviceaccount:"+kubernautNamespace+":gateway").UpdateStatus(ctx, ended)
	if got := apierrors.ReasonForError(err); got != "Conflict" {
		t.Errorf("reactivation beside an active holder: reason %q, want Conflict (%v)", got, err)
	}
}
