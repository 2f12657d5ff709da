package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/test/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fixture is what the golden namespace holds, and what the test must
// replace in the output to make it the same every run.
type fixture struct {
	kubeconfig string
	replace    []string // old, new pairs
}

func fp(name string) string {
	f, err := dedup.Fingerprint(dedup.Target{Namespace: "golden", Kind: "Deployment", Name: name})
	if err != nil {
		panic(err)
	}
	return f
}

// setUp stores, with no webhook registered, in namespace "golden": a
// duplicate set (api-1, api-2 Executing), a lone active request (db-1), a
// completed request whose claim the janitor marked (cache-1), and a claim
// whose holder was never stored (gone-1); and an empty namespace "clean".
func setUp(t *testing.T, env *testenv.Env) *fixture {
	t.Helper()
	ctx := context.Background()
	c := env.Client
	for _, ns := range []string{"golden", "clean"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(name, target string, phase v1alpha1.Phase) *v1alpha1.RemediationRequest {
		rr := testenv.RemediationRequest("golden", name, fp(target))
		if err := c.Create(ctx, rr); err != nil {
			t.Fatal(err)
		}
		if phase != "" {
			if err := testenv.SetPhase(ctx, c, rr.Namespace, rr.Name, phase); err != nil {
				t.Fatal(err)
			}
		}
		return rr
	}
	rrs := []*v1alpha1.RemediationRequest{
		mk("api-1", "api", ""), mk("api-2", "api", v1alpha1.PhaseExecuting),
		mk("db-1", "db", v1alpha1.PhaseAnalyzing), mk("cache-1", "cache", v1alpha1.PhaseCompleted),
	}
	claim := func(target, holder, uid, inactiveSince string) {
		l := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: "golden", Name: dedup.ClaimName(fp(target)),
				Labels:      map[string]string{dedup.ManagedByLabel: dedup.ManagedByValue},
				Annotations: map[string]string{dedup.FingerprintAnnotation: fp(target), dedup.HolderUIDAnnotation: uid}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder)},
		}
		if inactiveSince != "" {
			l.Annotations[dedup.InactiveSinceAnnotation] = inactiveSince
		}
		if err := c.Create(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	claim("cache", "cache-1", string(rrs[3].UID), "2026-01-01T00:00:00Z")
	claim("gone", "gone-1", "6f1e0d8e-gone", "")

	f := &fixture{kubeconfig: filepath.Join(t.TempDir(), "kubeconfig")}
	if err := os.WriteFile(f.kubeconfig, env.Environment().KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	// The scan's clock: two hours after the last creation, so that every
	// age reads "120m" (they were all created within a minute).
	var last time.Time
	for _, rr := range rrs {
		if rr.CreationTimestamp.After(last) {
			last = rr.CreationTimestamp.Time
		}
		f.replace = append(f.replace, string(rr.UID), "<uid:"+rr.Name+">",
			rr.CreationTimestamp.UTC().Format(time.RFC3339), "<created>")
	}
	at := last.Add(2 * time.Hour)
	now = func() time.Time { return at }
	f.replace = append(f.replace, at.UTC().Format(time.RFC3339), "<now>",
		at.Add(24*time.Hour).UTC().Format(time.RFC3339), "<now+24h>", f.kubeconfig, "<kubeconfig>")
	return f
}

// TestOutputAndExitCodes runs the command against a real API server and
// holds its stdout, stderr and exit code to the golden files in testdata
// (go test ./cmd/rrguard-scan -update rewrites them). The cases run in
// order: the dry run adopts nothing, the next scan adopts.
func TestOutputAndExitCodes(t *testing.T) {
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	f := setUp(t, env)
	kc := "--kubeconfig=" + f.kubeconfig
	for _, tc := range []struct {
		name string
		args []string
		exit int
	}{
		{"dry-run-table", []string{kc, "-n", "golden", "--dry-run"}, exitDuplicates},
		{"table", []string{kc, "-n", "golden"}, exitDuplicates},
		{"json", []string{kc, "-n", "golden", "-o", "json"}, exitDuplicates},
		{"clean", []string{kc, "--namespace", "clean"}, exitClean},
		{"bad-output", []string{kc, "-o", "yaml"}, exitError},
		{"bad-page-size", []string{kc, "--page-size=0"}, exitError},
		{"unreachable", []string{"--kubeconfig=/nonexistent/kubeconfig"}, exitError},
		{"help", []string{"-h"}, exitClean},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			got := fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", code, stdout.String(), stderr.String())
			r := strings.NewReplacer(f.replace...)
			got = r.Replace(got)
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
			}
			if code != tc.exit {
				t.Errorf("exit %d, want %d", code, tc.exit)
			}
		})
	}
	// The JSON is the Report: what the table says, machine-readable, and
	// the adoption really happened.
	l := &coordinationv1.Lease{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: "golden", Name: dedup.ClaimName(fp("api"))}, l); err != nil ||
		(dedup.Claim{Lease: l}).HolderName() != "api-1" {
		t.Errorf("claim of the duplicate set: %v, %+v; want held by api-1", err, l.Spec.HolderIdentity)
	}
}
