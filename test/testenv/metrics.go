package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// MetricsReaderRole is the manifests' ClusterRole that lets a scraper get
// /metrics.
func MetricsReaderRole() string {
	return filepath.Join(RepoRoot(), "manifests", "rbac", "metrics_reader_role.yaml")
}

// ScrapeMetrics scrapes a binary's https://addr/metrics as a user of the
// manifests would, and holds it to how it must be served: refused 401
// without a token, 403 with the token of a ServiceAccount not bound to the
// metrics-reader ClusterRole, served with one that is. It returns the
// metrics. roots verifies the server's certificate; nil accepts any (the
// self-signed one a binary generates without --metrics-cert-path).
func (e *Env) ScrapeMetrics(t testing.TB, addr string, roots *x509.CertPool) string {
	t.Helper()
	ctx := context.Background()
	ns := e.Namespace(t)
	reader, stranger := e.metricsToken(t, ns, "scraper", true), e.metricsToken(t, ns, "stranger", false)
	tlsConfig := &tls.Config{RootCAs: roots, InsecureSkipVerify: roots == nil}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	url := "https://" + addr + "/metrics"
	// The manager starts the metrics server beside the probes: ready is
	// not yet listening.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = conn.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v", addr, err)
		}
	}
	for _, tc := range []struct {
		who, token string
		want       int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"a ServiceAccount without metrics-reader", stranger, http.StatusForbidden},
		{"a ServiceAccount bound to metrics-reader", reader, http.StatusOK},
	} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s with %s: %v", url, tc.who, err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != tc.want {
			t.Fatalf("GET %s with %s: %s (%v), want %d\n%.300s", url, tc.who, resp.Status, err, tc.want, body)
		}
		if tc.want == http.StatusOK {
			return string(body)
		}
	}
	panic("unreachable: the last case returns")
}

// metricsToken creates the ServiceAccount sa in ns, bound to the
// manifests' metrics-reader ClusterRole if bound, and returns a token of
// it. A binding is in force once a SubjectAccessReview says so: asked
// earlier, the binary's authorizer would cache the denial.
func (e *Env) metricsToken(t testing.TB, ns, sa string, bound bool) string {
	t.Helper()
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(e.Config)
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if bound {
		e.bindMetricsReader(t, cs, ns, sa)
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

func (e *Env) bindMetricsReader(t testing.TB, cs kubernetes.Interface, ns, sa string) {
	t.Helper()
	ctx := context.Background()
	raw, err := os.ReadFile(MetricsReaderRole())
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.UnmarshalStrict(raw, role); err != nil {
		t.Fatalf("%s: %v", MetricsReaderRole(), err)
	}
	role.Name = "metrics-reader-" + ns // one per test: tests share the API server
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: sa}}}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	user := fmt.Sprintf("system:serviceaccount:%s:%s", ns, sa)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		sar, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: user,
				NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s may not get /metrics 10s after the binding", user)
		}
	}
}
