package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rrguard/rrguard/test/gatewaytest"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
)

// The command drives a real gateway on one control plane with rrguard's
// webhook registered and served, and checks the outcome there.
var env *testenv.Env

func TestMain(m *testing.M) {
	webhooktest.Main(m, func(e *testenv.Env, _ *webhooktest.Server) { env = e })
}

// kubeconfig writes the control plane administrator's kubeconfig, as
// envtest made it, to a file.
func kubeconfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, env.Environment().KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The command end to end: a mixed load through a real gateway, checked on
// the real API server through a kubeconfig; and the check failing, with a
// non-nil error (exit status 1), when it looks where the gateway did not
// write.
func TestDriveSendsTheLoadAndChecksTheOutcomeOnTheAPIServer(t *testing.T) {
	ns := env.Namespace(t)
	gw, err := gatewaytest.Start(gatewaytest.Options{Config: env.Config, Scheme: env.Scheme, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = gw.Stop() }()
	kc := kubeconfig(t)
	args := []string{"--gateway-url=" + gw.URL, "--kubeconfig=" + kc, "--scenario=mixed", "--signals=200", "--concurrency=16", "--fingerprints=5"}

	var out bytes.Buffer
	if err := run(context.Background(), append(args, "--namespace="+ns), &out, drive); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	t.Log(out.String())
	for _, want := range []string{"mixed 200 signals", "API server requests:", "check: 5 fingerprints, 5 RemediationRequests (5 active), occurrenceCount sum 200, 200 answered 2xx, 0 problem(s)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	err = run(context.Background(), append(args, "--namespace="+env.Namespace(t), "--target-prefix=elsewhere"), &out, drive)
	if err == nil || !strings.Contains(err.Error(), "problem") {
		t.Errorf("a check where nothing was written: err = %v, want the check's problems\n%s", err, out.String())
	}
}
