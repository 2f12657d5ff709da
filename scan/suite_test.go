package scan_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
)

// The suite's control plane calls the real webhook over TLS. Its reads go
// through a client whose requests webhookReads counts on the wire.
// Namespaces labelled webhooktest.UnguardedLabel are left alone, as on a
// cluster without rrguard: that is where the duplicates a scan must find
// are made.
var (
	env          *testenv.Env
	server       *webhooktest.Server
	webhookReads = &requestCounter{}
)

func TestMain(m *testing.M) {
	e, err := testenv.Start(testenv.Options{ValidatingWebhooks: webhooktest.Configurations()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	env = e
	code := func() int {
		reader, err := newCountingClient(webhookReads)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		server, err = webhooktest.Serve(env, webhooktest.Options{Reader: reader})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer server.Stop()
		return m.Run()
	}()
	_ = env.Stop()
	os.Exit(code)
}

var fpSeq atomic.Int64

// newFingerprint returns a fingerprint no other test uses.
func newFingerprint(t testing.TB) string {
	t.Helper()
	fp, err := dedup.Fingerprint(dedup.Target{Namespace: "scan", Kind: "Deployment", Name: fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), fpSeq.Add(1))})
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

func newRR(ns, name, fp string) *v1alpha1.RemediationRequest {
	return testenv.RemediationRequest(ns, name, fp)
}

// mustCreate creates rr, failing t.
func mustCreate(t testing.TB, rr *v1alpha1.RemediationRequest) *v1alpha1.RemediationRequest {
	t.Helper()
	if err := env.Client.Create(context.Background(), rr); err != nil {
		t.Fatalf("create %s: %v", rr.Name, err)
	}
	return rr
}

func setPhase(t testing.TB, rr *v1alpha1.RemediationRequest, p v1alpha1.Phase) {
	t.Helper()
	if err := testenv.SetPhase(context.Background(), env.Client, rr.Namespace, rr.Name, p); err != nil {
		t.Fatal(err)
	}
}

// guard removes ns's unguarded label and waits until the webhook guards
// it: until a dry-run duplicate (which writes nothing) of a probe request,
// stored while ns was unguarded and deleted afterwards, is denied.
func guard(t testing.TB, ns string) {
	t.Helper()
	ctx := context.Background()
	probe := mustCreate(t, newRR(ns, "guard-probe", newFingerprint(t)))
	n := &corev1.Namespace{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: ns}, n); err != nil {
		t.Fatal(err)
	}
	delete(n.Labels, webhooktest.UnguardedLabel)
	if err := env.Client.Update(ctx, n); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		dup := newRR(ns, "guard-probe-dup", probe.Spec.SignalFingerprint)
		if _, ok := dedup.DenialFromError(env.Client.Create(ctx, dup, client.DryRunAll)); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s still unguarded 20s after its label went", ns)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := env.Client.Delete(ctx, probe); err != nil {
		t.Fatal(err)
	}
}

// activeIn returns the names of the active requests with fingerprint fp in
// ns, read now.
func activeIn(t testing.TB, ns, fp string) []string {
	t.Helper()
	items, err := dedup.ListByFingerprint(context.Background(), env.Client, ns, fp)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := range items {
		if dedup.IsActive(&items[i]) {
			out = append(out, items[i].Name)
		}
	}
	return out
}

// claimHolder returns the name of fp's claim holder in ns; "" without a claim.
func claimHolder(t testing.TB, ns, fp string) string {
	t.Helper()
	l := webhooktest.Claim(t, env.Client, ns, fp)
	if l == nil {
		return ""
	}
	return dedup.Claim{Lease: l}.HolderName()
}

// requestCounter counts the requests a client sends, by kind.
type requestCounter struct {
	rrLists, rrGets, leaseGets atomic.Int64
}

var (
	rrCollection = regexp.MustCompile(`/apis/kubernaut\.ai/v1alpha1/(namespaces/[^/]+/)?remediationrequests$`)
	rrObject     = regexp.MustCompile(`/apis/kubernaut\.ai/v1alpha1/namespaces/[^/]+/remediationrequests/[^/]+$`)
	leaseObject  = regexp.MustCompile(`/apis/coordination\.k8s\.io/v1/namespaces/[^/]+/leases/[^/]+$`)
)

type countingTransport struct {
	next http.RoundTripper
	c    *requestCounter
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet {
		switch p := r.URL.Path; {
		case rrCollection.MatchString(p):
			t.c.rrLists.Add(1)
		case rrObject.MatchString(p):
			t.c.rrGets.Add(1)
		case leaseObject.MatchString(p):
			t.c.leaseGets.Add(1)
		}
	}
	return t.next.RoundTrip(r)
}

// newCountingClient returns a client of env whose requests c counts, on
// the wire.
func newCountingClient(c *requestCounter) (client.Client, error) {
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countingTransport{next: rt, c: c} })
	return client.New(cfg, client.Options{Scheme: env.Scheme})
}
