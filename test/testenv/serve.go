package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// KubeconfigFile writes e's kubeconfig to a file of t's and returns its
// path: a binary's --kubeconfig.
func (e *Env) KubeconfigFile(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, e.env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Serve runs a binary's serve until t ends and returns once its /readyz on
// probeAddr answers 200, within 30 s. When t ends it cancels serve's
// context, and serve must return nil within 60 s: a binary stops cleanly
// when asked.
func Serve(t testing.TB, probeAddr string, serve func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v after cancel, want nil", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("serve did not stop within 60s of cancel")
		}
	})
	if err := WaitFor200("http://"+probeAddr+"/readyz", 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

// WaitFor200 polls url until it answers 200, for at most within.
func WaitFor200(url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready within %s: %w", within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
