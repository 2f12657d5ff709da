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
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
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
// a policy engine would be: it holds for hold the create of every RR whose
// name contains "held", and the status update that reactivates an RR whose
// name contains "revived", then allows them. The API server stores a write
// only once every webhook has answered.
type slowWebhook struct {
	hold  time.Duration
	calls atomic.Int64
}

func (s *slowWebhook) Handle(ctx context.Context, req admission.Request) admission.Response {
	s.calls.Add(1)
	if s.holds(req) {
		select {
		case <-time.After(s.hold):
		case <-ctx.Done():
		}
	}
	return admission.Allowed("")
}

func (s *slowWebhook) holds(req admission.Request) bool {
	if req.SubResource != "status" {
		return strings.Contains(req.Name, "held")
	}
	rr := &v1alpha1.RemediationRequest{}
	if err := admission.NewDecoder(env.Scheme).DecodeRaw(req.Object, rr); err != nil {
		return false
	}
	return strings.Contains(req.Name, "revived") && dedup.IsActive(rr)
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
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{v1alpha1.GroupVersion.Group}, APIVersions: []string{"*"},
					Resources: []string{v1alpha1.Resource, v1alpha1.Resource + "/status"}},
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
		_ = create(ctx, testenv.RemediationRequest(ns, "", newFingerprint(t)), true)
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

// rule is a way of judging a claim's age, on a replica of its own, and how
// many active RRs it lets a race leave.
type rule struct {
	name   string
	prefix string // of the names of the RRs its replica decides
	opts   webhooktest.Options
	active int
}

// rules are the replaced rule (the wall-clock age against a grace that was
// a guess, shorter than the slowest admission) and this protocol's.
func rules(oldGrace time.Duration) []rule {
	return []rule{
		{"wall-clock age against a guessed grace: a duplicate", "old-",
			webhooktest.Options{Age: wallClockAge{clock.RealClock{}}, Webhook: webhook.Options{ClaimGrace: oldGrace}}, 2},
		{"observed age against the default grace (the API server's request timeout): none", "new-", webhooktest.Options{}, 1},
	}
}

// The API server stores a write only after every validating webhook has
// answered, and a co-installed webhook may take up to 30 s. With a grace
// that is a guess (here 2 s) shorter than that, a create arriving after the
// grace takes the claim of an admitted RR that another webhook still holds,
// and both are stored. The same for a reactivation: while another webhook
// holds the status update that moves x back to an active phase, x is
// stored in its terminal phase at the resourceVersion its claim records,
// and the create takes the claim over without even a List (x is stored).
// Each rule decides on a replica of its own, side by side.
func TestASlowCoInstalledWebhookDoesNotLetADuplicateThrough(t *testing.T) {
	const hold, oldGrace = 4 * time.Second, 2 * time.Second
	ns := coInstallSlowWebhook(t, hold)
	rs := rules(oldGrace)
	route := byName{}
	for _, r := range rs {
		route[r.prefix] = replica(t, r.opts)
	}
	suite.Replace(t, webhooktest.Options{Handler: route})

	// x's write is admitted and held; it returns when x's claim shows it.
	writes := map[string]func(t *testing.T, r rule, fp string) (x string, done <-chan error){
		"create": func(t *testing.T, r rule, fp string) (string, <-chan error) {
			x := r.prefix + "held-" + fp[:8]
			done := createAsync(testenv.RemediationRequest(ns, x, fp))
			claimedBy(t, ns, fp, x)
			return x, done
		},
		"reactivation": func(t *testing.T, r rule, fp string) (string, <-chan error) {
			x := completed(t, ns, r.prefix+"revived-"+fp[:8], fp)
			stored := x.ResourceVersion
			done := make(chan error, 1)
			go func() { done <- updatePhase(x, v1alpha1.PhaseProcessing) }()
			deadline := time.Now().Add(10 * time.Second)
			for (dedup.Claim{Lease: webhooktest.Claim(t, env.Client, ns, fp)}).PendingReactivation() != stored {
				if time.Now().After(deadline) {
					t.Fatal("the reactivation never took the claim")
				}
				time.Sleep(10 * time.Millisecond)
			}
			return x.Name, done
		},
	}
	for _, r := range rs {
		for what, write := range writes {
			t.Run(r.name+"/"+what, func(t *testing.T) {
				t.Parallel()
				fp := newFingerprintFor(t, r.prefix+what)
				x, done := write(t, r, fp)
				time.Sleep(oldGrace + 300*time.Millisecond)

				errY := create(context.Background(), testenv.RemediationRequest(ns, r.prefix+"y-"+fp[:8], fp), false)
				if err := <-done; err != nil {
					t.Fatalf("%s: %v", x, err)
				}
				wantActive(t, ns, fp, r, x, errY)
			})
		}
	}
}

// wantActive checks that fp has as many active RRs as r lets through, and
// that where it is one, y was denied naming x.
func wantActive(t *testing.T, ns, fp string, r rule, x string, errY error) {
	t.Helper()
	if got := webhooktest.ActiveNames(t, env.Client, ns, fp); len(got) != r.active {
		t.Errorf("active RRs %v (y: %v), want %d", got, errY, r.active)
	}
	if r.active == 1 {
		if d, ok := dedup.DenialFromError(errY); !ok || d.Holder != x {
			t.Errorf("y: %v, want a denial naming %s", errY, x)
		}
		t.Logf("y: %v", errY)
	}
}

// newFingerprintFor returns a fingerprint of its own for one of a test's
// parallel subtests (newFingerprint's counter is not safe for them).
func newFingerprintFor(t *testing.T, what string) string {
	t.Helper()
	fp, err := dedup.Fingerprint(dedup.Target{Namespace: "bench", Kind: "Deployment", Name: strings.ReplaceAll(t.Name()+"."+what, "/", ".")})
	if err != nil {
		t.Fatal(err)
	}
	return fp
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

// replica returns the real handler of a replica made with o.
func replica(t *testing.T, o webhooktest.Options) admission.Handler {
	t.Helper()
	h, _, err := webhooktest.NewHandler(env, o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Two replicas whose clocks disagree by more than the grace. Replica a
// admits held-x (a slow co-installed webhook holds its create for a
// moment); replica b, ahead, decides y meanwhile.
func TestReplicasWhoseClocksDisagreeDoNotLetADuplicateThrough(t *testing.T) {
	const hold = 1500 * time.Millisecond
	skew := dedup.DefaultClaimGrace + 10*time.Second
	ns := coInstallSlowWebhook(t, hold)
	ahead := skewedClock{offset: skew}
	cases := []struct {
		rule
		a, b webhooktest.Options
	}{
		{rule{name: "wall-clock age: b reads a's claim as older than the grace, a duplicate", prefix: "old-", active: 2},
			webhooktest.Options{Age: wallClockAge{clock.RealClock{}}},
			webhooktest.Options{Clock: ahead, Age: wallClockAge{ahead}}},
		{rule{name: "observed age: b has just seen the claim, none", prefix: "new-", active: 1},
			webhooktest.Options{}, webhooktest.Options{Clock: ahead}},
	}
	route := byName{}
	for _, tc := range cases {
		route[tc.prefix+"a-"], route[tc.prefix+"b-"] = replica(t, tc.a), replica(t, tc.b)
	}
	suite.Replace(t, webhooktest.Options{Handler: route})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fp := newFingerprintFor(t, tc.prefix)
			x := tc.prefix + "a-held-" + fp[:8]
			done := createAsync(testenv.RemediationRequest(ns, x, fp))
			claimedBy(t, ns, fp, x)

			errY := create(context.Background(), testenv.RemediationRequest(ns, tc.prefix+"b-y-"+fp[:8], fp), false)
			if err := <-done; err != nil {
				t.Fatalf("%s: %v", x, err)
			}
			wantActive(t, ns, fp, tc.rule, x, errY)
		})
	}
}

// A replica an hour ahead stamped a claim whose holder was never stored.
// Judged by that stamp, the claim is an hour from stale and blocks its
// fingerprint for that long; judged by what the deciding replica observed,
// it is taken over after the grace.
func TestAClaimStampedByAReplicaAheadBlocksOnlyForTheGrace(t *testing.T) {
	const grace = 10 * time.Second
	for name, wallClock := range map[string]bool{
		"wall-clock age: still blocked after the grace": true,
		"observed age: taken over after the grace":      false,
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			ns := env.Namespace(t)
			fp := newFingerprint(t)
			clk := clocktesting.NewFakePassiveClock(time.Now())
			o := webhooktest.Options{Clock: clk, Webhook: webhook.Options{ClaimGrace: grace, HolderWait: -1}}
			if wallClock {
				o.Age = wallClockAge{clk}
			}
			suite.Replace(t, o)
			ghostClaim(t, ns, fp, time.Now().Add(time.Hour))

			wantClaimInFlight(t, create(ctx, testenv.RemediationRequest(ns, "early", fp), false), "ghost")
			clk.SetTime(clk.Now().Add(grace))
			err := create(ctx, testenv.RemediationRequest(ns, "after", fp), false)
			if takenOver := !wallClock; takenOver != (err == nil) {
				t.Errorf("create after the grace: %v, want taken over: %v", err, takenOver)
			}
			if wallClock {
				wantClaimInFlight(t, err, "ghost")
			}
		})
	}
}
