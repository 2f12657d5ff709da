package devenv

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rrguard/rrguard/test/testenv"
)

// TestRunAndDemo is `make run` and `make demo` end to end: the real
// binaries on a real control plane, a burst of identical alerts, one
// RemediationRequest counting them all, and everything gone after Ctrl-C.
func TestRunAndDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal(testenv.ErrNoAssets)
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/webhook", "./cmd/gateway")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	addr := testenv.MustFreeAddr(t)
	state := filepath.Join(t.TempDir(), "dev")

	ctx, cancel := context.WithCancel(context.Background())
	out := &testenv.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{BinDir: bin, StateDir: state, GatewayAddress: addr, Out: out})
	}()
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(out.String(), "rrguard is running") {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("Run ended before it was running: %v\n%s", err, out)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("not running within 90s:\n%s", out)
		}
	}
	curl := "curl -sS --cacert " + GatewayCAPath(state) + " -XPOST https://" + addr + "/api/v1/signals/prometheus"
	for _, want := range []string{"https://" + addr, KubeconfigPath(state), curl} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("instructions lack %q:\n%s", want, out)
		}
	}
	// The printed curl works as printed, over TLS with the printed CA
	// (when curl is installed).
	curled := false
	if _, err := exec.LookPath("curl"); err == nil {
		curled = true
		line := out.String()[strings.Index(out.String(), curl):]
		line = line[:strings.Index(line, "\n")]
		res, err := exec.Command("sh", "-c", strings.TrimSpace(line)+" -w ' %{http_code}'").CombinedOutput()
		if err != nil || !strings.HasSuffix(strings.TrimSpace(string(res)), " 201") {
			t.Errorf("the printed curl: %v: %s, want 201", err, res)
		}
	}
	// Plain HTTP is not served.
	if resp, err := http.Post("http://"+addr+"/api/v1/signals/prometheus", "application/json", strings.NewReader(sampleAlert("x"))); err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("plain HTTP to the gateway: %s, want it refused", resp.Status)
		}
	}

	var table bytes.Buffer
	if err := Demo(context.Background(), "https://"+addr, GatewayCAPath(state), KubeconfigPath(state), "rrguard-system", 20, &table); err != nil {
		t.Fatalf("demo: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(table.String()), "\n")
	if !strings.Contains(lines[0], "map[201:1 202:19]") {
		t.Errorf("answers = %q, want one 201 and nineteen 202", lines[0])
	}
	rows := lines[3:] // summary, blank line, header
	burst := 0
	for _, r := range rows {
		if strings.HasSuffix(strings.TrimSpace(r), " 20") {
			burst++
		}
	}
	if want := map[bool]int{false: 1, true: 2}[curled]; len(rows) != want || burst != 1 {
		t.Errorf("RemediationRequests = %q, want one with 20 occurrences (and the curl's)\n%s", rows, table.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not stop within 60s of cancel")
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state dir %s left behind (%v)", state, err)
	}
}
