package webhook_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
)

// The suite's control plane calls the webhook over TLS at envtest's
// registered localhost port, where proxy listens and forwards to whichever
// webhook servers a test puts behind it: one real server by default.
var (
	env    *testenv.Env
	proxy  *webhooktest.Proxy
	server *webhooktest.Server
	rrREST rest.Interface
)

func TestMain(m *testing.M) {
	flag.Parse()
	if fuzzing() {
		// The fuzz targets are unit-level; their workers need no control plane.
		os.Exit(m.Run())
	}
	e, err := testenv.Start(testenv.Options{ValidatingWebhooks: webhooktest.Configurations()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	env = e
	code := func() int {
		wio := env.WebhookInstallOptions()
		proxy, err = webhooktest.NewProxy(net.JoinHostPort(wio.LocalServingHost, strconv.Itoa(wio.LocalServingPort)))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer proxy.Close()
		server, err = serveOn(webhooktest.Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer func() { server.Stop() }() // the one serving then: tests replace it
		useBackends(server)
		rrREST, err = newRRRESTClient()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	_ = env.Stop()
	os.Exit(code)
}

// fuzzing reports whether this process runs a fuzz target (as the
// coordinator or one of its workers).
func fuzzing() bool {
	for _, name := range []string{"test.fuzz", "test.fuzzworker"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != "false" {
			return true
		}
	}
	return false
}

// serveOn starts a webhook server on a free port.
func serveOn(o webhooktest.Options) (*webhooktest.Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	o.Port = ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return webhooktest.Serve(env, o)
}

// replaceServer stops the suite's webhook server and serves one made with o
// in its place until the test ends. Stopping the old server closes the API
// server's connections to it, so every admission from now on reaches the
// new one.
func replaceServer(t *testing.T, o webhooktest.Options) *webhooktest.Server {
	t.Helper()
	server.Stop()
	s, err := serveOn(o)
	if err != nil {
		t.Fatal(err)
	}
	server = s
	useBackends(s)
	t.Cleanup(func() {
		server.Stop()
		d, err := serveOn(webhooktest.Options{})
		if err != nil {
			t.Fatalf("restore the webhook server: %v", err)
		}
		server = d
		useBackends(d)
	})
	return s
}

func backendAddr(s *webhooktest.Server) string {
	return net.JoinHostPort(env.WebhookInstallOptions().LocalServingHost, strconv.Itoa(s.Port))
}

func useBackends(ss ...*webhooktest.Server) {
	addrs := make([]string, len(ss))
	for i, s := range ss {
		addrs[i] = backendAddr(s)
	}
	proxy.SetBackends(addrs...)
}

// newRRRESTClient returns a REST client for remediationrequests whose
// requests are not retried: client-go retries a 429 with Retry-After by
// itself, and the tests must see each admission answer as it was given.
// adjust, if given, changes the config first (a warning handler, say).
func newRRRESTClient(adjust ...func(*rest.Config)) (rest.Interface, error) {
	cfg := rest.CopyConfig(env.Config)
	for _, a := range adjust {
		a(cfg)
	}
	cfg.GroupVersion = &v1alpha1.GroupVersion
	cfg.APIPath = "/apis"
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(env.Scheme).WithoutConversion()
	return rest.RESTClientFor(cfg)
}

// create creates rr once, without client-side retries.
func create(ctx context.Context, rr *v1alpha1.RemediationRequest, dryRun bool) error {
	return createVia(ctx, rrREST, rr, dryRun)
}

// createVia is create through c.
func createVia(ctx context.Context, c rest.Interface, rr *v1alpha1.RemediationRequest, dryRun bool) error {
	req := c.Post().Namespace(rr.Namespace).Resource(v1alpha1.Resource).Body(rr).MaxRetries(0)
	if dryRun {
		req = req.Param("dryRun", metav1.DryRunAll)
	}
	return req.Do(ctx).Into(rr)
}

// updateStatus writes rr's status once, without client-side retries.
func updateStatus(ctx context.Context, rr *v1alpha1.RemediationRequest) error {
	return updateStatusVia(ctx, rrREST, rr)
}

// updateStatusVia is updateStatus through c.
func updateStatusVia(ctx context.Context, c rest.Interface, rr *v1alpha1.RemediationRequest) error {
	return c.Put().Namespace(rr.Namespace).Resource(v1alpha1.Resource).Name(rr.Name).
		SubResource("status").Body(rr).MaxRetries(0).Do(ctx).Into(rr)
}

var fpSeq int

// newFingerprint returns a fingerprint no other test uses.
func newFingerprint(t testing.TB) string {
	t.Helper()
	fpSeq++
	fp, err := dedup.Fingerprint(dedup.Target{Namespace: "bench", Kind: "Deployment", Name: fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), fpSeq)})
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

func newRR(ns, name, fp string) *v1alpha1.RemediationRequest {
	return testenv.RemediationRequest(ns, name, fp)
}

// auditLine is one line of the audit log, decoded.
type auditLine struct {
	Logger         string   `json:"logger"`
	Msg            string   `json:"msg"`
	RequestUID     string   `json:"requestUID"`
	Operation      string   `json:"operation"`
	Subresource    string   `json:"subresource"`
	DryRun         bool     `json:"dryRun"`
	User           string   `json:"user"`
	Groups         []string `json:"groups"`
	Namespace      string   `json:"namespace"`
	Name           string   `json:"name"`
	ObjectUID      string   `json:"objectUID"`
	Fingerprint    string   `json:"fingerprint"`
	Decision       string   `json:"decision"`
	Reason         string   `json:"reason"`
	Holder         string   `json:"holder"`
	ClaimAction    string   `json:"claimAction"`
	Coalesced      *bool    `json:"coalesced"`
	LatencySeconds *float64 `json:"latencySeconds"`
	Message        string   `json:"message"`
}

// auditLines decodes s's audit log, failing on any line that is not JSON
// from the audit logger.
func auditLines(t testing.TB, s *webhooktest.Server) []auditLine {
	t.Helper()
	var out []auditLine
	sc := bufio.NewScanner(bytes.NewReader(s.AuditLog()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l auditLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("audit line is not JSON: %q: %v", sc.Text(), err)
		}
		if l.Logger != "audit" {
			continue
		}
		out = append(out, l)
	}
	return out
}

// auditFor returns the audit lines about object name in namespace ns.
func auditFor(t testing.TB, s *webhooktest.Server, ns, name string) []auditLine {
	t.Helper()
	var out []auditLine
	for _, l := range auditLines(t, s) {
		if l.Namespace == ns && l.Name == name {
			out = append(out, l)
		}
	}
	return out
}
