package webhook_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/internal/testenv"
	"github.com/rrguard/rrguard/internal/webhooktest"
	"github.com/rrguard/rrguard/webhook"
)

// A claim's age decides when a claim whose holder is not stored may be
// taken over. These tests put the real control plane where the rule this
// protocol replaced — the deciding replica's clock minus the acquireTime
// the writing replica stamped, against a grace that was a guess — admits a
// second active RR, and show that judging the age by what the deciding
// replica itself observed, against a grace derived from the API server's
// request timeout, does not.

// wallClockAge is the replaced rule, kept here to show it failing.
type wallClockAge struct{ clock clock.PassiveClock }

func (w wallClockAge) Age(c dedup.Claim) time.Duration { return w.clock.Now().Sub(c.AcquiredAt()) }

// skewedClock is a replica's clock that runs ahead of the others by offset.
type skewedClock struct{ offset time.Duration }

func (s skewedClock) Now() time.Time                  { return time.Now().Add(s.offset) }
func (s skewedClock) Since(t time.Time) time.Duration { return s.Now().Sub(t) }

// slowWebhook is a second validating webhook installed beside rrguard's, as
// a policy engine would be: it holds the create of every RR whose name
// contains "held" for hold, then allows it. The API server stores the RR
// only once every webhook has answered.
type slowWebhook struct {
	hold  time.Duration
	calls atomic.Int64
}

func (s *slowWebhook) Handle(ctx context.Context, req admission.Request) admission.Response {
	s.calls.Add(1)
	if strings.Contains(req.Name, "held") {
		select {
		case <-time.After(s.hold):
		case <-ctx.Done():
		}
	}
	return admission.Allowed("")
}

// coInstallSlowWebhook serves a slowWebhook over TLS and registers it for
// the creates of RRs in a fresh namespace, which it returns once the API
// server calls it.
func coInstallSlowWebhook(t *testing.T, hold time.Duration) string {
	t.Helper()
	ctx := context.Background()
	ns := env.Namespace(t)
	nsObj := &corev1.Namespace{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: ns}, nsObj); err != nil {
		t.Fatal(err)
	}
	nsObj.Labels = map[string]string{"rrguard.test/slow-webhook": ns}
	if err := env.Client.Update(ctx, nsObj); err != nil {
		t.Fatal(err)
	}

	wio := env.WebhookInstallOptions()
	port := testenv.FreePort(t)
	slow := &slowWebhook{hold: hold}
	srv := ctrlwebhook.NewServer(ctrlwebhook.Options{Host: wio.LocalServingHost, Port: port, CertDir: wio.LocalServingCertDir})
	srv.Register("/slow", &admission.Webhook{Handler: slow, LogConstructor: func(logr.Logger, *admission.Request) logr.Logger { return logr.Discard() }})
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Start(sctx) }()
	t.Cleanup(func() { stop(); <-done })

	url := "https://" + net.JoinHostPort(wio.LocalServingHost, strconv.Itoa(port)) + "/slow"
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "slow-" + ns},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:         "slow.policy.example.com",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: wio.LocalServingCAData},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{v1alpha1.GroupVersion.Group}, APIVersions: []string{"*"},
					Resources: []string{v1alpha1.Resource}},
			}},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: nsObj.Labels},
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			TimeoutSeconds:          ptr.To[int32](30),
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
	if err := env.Client.Create(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), cfg) })

	// The API server picks new configurations up from its informer: probe
	// with dry runs until the slow webhook is called.
	deadline := time.Now().Add(20 * time.Second)
	for slow.calls.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the API server never called the co-installed webhook")
		}
		_ = create(ctx, newRR(ns, "", newFingerprint(t)), true)
		time.Sleep(50 * time.Millisecond)
	}
	return ns
}

// createAsync starts a create of rr and returns where its error arrives.
func createAsync(rr *v1alpha1.RemediationRequest) <-chan error {
	errc := make(chan error, 1)
	go func() { errc <- create(context.Background(), rr, false) }()
	return errc
}

// claimedBy waits until fp's claim names holder and returns when it saw so.
func claimedBy(t *testing.T, ns, fp, holder string) time.Time {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if l := webhooktest.Claim(t, env.Client, ns, fp); l != nil && (dedup.Claim{Lease: l}).HolderName() == holder {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("no claim held by %s after 10s", holder)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The API server stores an RR only after every validating webhook has
// answered, and a co-installed webhook may take up to 30 s. With a grace
// that is a guess (here 2 s) shorter than that, a create arriving after the
// grace takes the claim of an admitted RR that another webhook still holds,
// and both are stored.
func TestASlowCoInstalledWebhookDoesNotLetADuplicateThrough(t *testing.T) {
	const hold, oldGrace = 4 * time.Second, 2 * time.Second
	ns := coInstallSlowWebhook(t, hold)
	for _, tc := range []struct {
		name   string
		opts   webhooktest.Options
		active int
	}{
		{"wall-clock age against a guessed grace: a duplicate",
			webhooktest.Options{Age: wallClockAge{clock.RealClock{}}, Webhook: webhook.Options{ClaimGrace: oldGrace}}, 2},
		{"observed age against the default grace (the API server's request timeout): none", webhooktest.Options{}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			replaceServer(t, tc.opts)
			fp := newFingerprint(t)
			name := "held-" + fp[:8]
			x := createAsync(newRR(ns, name, fp))
			seen := claimedBy(t, ns, fp, name)
			time.Sleep(time.Until(seen.Add(oldGrace + 300*time.Millisecond)))

			errY := create(context.Background(), newRR(ns, "y-"+fp[:8], fp), false)
			if err := <-x; err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got := activeWith(t, ns, fp)
			if len(got) != tc.active {
				t.Errorf("active RRs %v (y: %v), want %d", got, errY, tc.active)
			}
			if tc.active == 1 {
				if d, ok := dedup.DenialFromError(errY); !ok || d.Holder != name {
					t.Errorf("y: %v, want a denial naming %s", errY, name)
				}
				t.Logf("y: %v", errY)
			}
		})
	}
}

// byName routes each admission to one of several replicas by the prefix of
// the object's name: replicas share nothing but the API server, and the
// test decides which one decides.
type byName map[string]admission.Handler

func (r byName) Handle(ctx context.Context, req admission.Request) admission.Response {
	for prefix, h := range r {
		if strings.HasPrefix(req.Name, prefix) {
			return h.Handle(ctx, req)
		}
	}
	return admission.Denied("no replica for " + req.Name)
}

func replica(o webhooktest.Options) admission.Handler {
	return webhook.NewHandler(webhooktest.Admitter(env, o), env.Scheme, logr.Discard(), nil)
}

// Two replicas whose clocks disagree by more than the grace. Replica a
// admits held-x (a slow co-installed webhook holds its create for a
// moment); replica b, ahead, decides y meanwhile.
func TestReplicasWhoseClocksDisagreeDoNotLetADuplicateThrough(t *testing.T) {
	const hold = 1500 * time.Millisecond
	skew := dedup.DefaultClaimGrace + 10*time.Second
	ns := coInstallSlowWebhook(t, hold)
	ahead := skewedClock{offset: skew}
	for _, tc := range []struct {
		name   string
		a, b   webhooktest.Options
		active int
	}{
		{"wall-clock age: b reads a's claim as older than the grace, a duplicate",
			webhooktest.Options{Age: wallClockAge{clock.RealClock{}}},
			webhooktest.Options{Clock: ahead, Age: wallClockAge{ahead}}, 2},
		{"observed age: b has just seen the claim, none",
			webhooktest.Options{}, webhooktest.Options{Clock: ahead}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			replaceServer(t, webhooktest.Options{Handler: byName{"a-": replica(tc.a), "b-": replica(tc.b)}})
			fp := newFingerprint(t)
			name := "a-held-" + fp[:8]
			x := createAsync(newRR(ns, name, fp))
			claimedBy(t, ns, fp, name)

			errY := create(context.Background(), newRR(ns, "b-y-"+fp[:8], fp), false)
			if err := <-x; err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got := activeWith(t, ns, fp); len(got) != tc.active {
				t.Errorf("active RRs %v (b-y: %v), want %d", got, errY, tc.active)
			}
			if tc.active == 1 {
				if d, ok := dedup.DenialFromError(errY); !ok || d.Holder != name {
					t.Errorf("b-y: %v, want a denial naming %s", errY, name)
				}
				t.Logf("b-y: %v", errY)
			}
		})
	}
}

// A replica an hour ahead stamped a claim whose holder was never stored.
// Judged by that stamp, the claim is an hour from stale and blocks its
// fingerprint for that long; judged by what the deciding replica observed,
// it is taken over after the grace.
func TestAClaimStampedByAReplicaAheadBlocksOnlyForTheGrace(t *testing.T) {
	const grace = 10 * time.Second
	for _, tc := range []struct {
		name      string
		wallClock bool
		takenOver bool
	}{
		{"wall-clock age: still blocked after the grace", true, false},
		{"observed age: taken over after the grace", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			ns := env.Namespace(t)
			fp := newFingerprint(t)
			clk := clocktesting.NewFakePassiveClock(time.Now())
			o := webhooktest.Options{Clock: clk, Webhook: webhook.Options{ClaimGrace: grace, HolderWait: -1}}
			if tc.wallClock {
				o.Age = wallClockAge{clk}
			}
			replaceServer(t, o)
			ghostClaim(t, ns, fp, time.Now().Add(time.Hour))

			wantClaimInFlight(t, create(ctx, newRR(ns, "early", fp), false), "ghost")
			clk.SetTime(clk.Now().Add(grace))
			err := create(ctx, newRR(ns, "after", fp), false)
			if tc.takenOver != (err == nil) {
				t.Errorf("create after the grace: %v, want taken over: %v", err, tc.takenOver)
			}
			if !tc.takenOver {
				wantClaimInFlight(t, err, "ghost")
			}
		})
	}
}
