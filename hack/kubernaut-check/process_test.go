//go:build kubernautcheck

package kubernautcheck

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// process is one binary the rig runs, its output appended to log.
type process struct {
	name, path string
	args, env  []string
	ready, log string
	cmd        *exec.Cmd
	done       chan struct{}
}

func (p *process) start(t *testing.T) {
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	must(t, err)
	p.cmd = exec.Command(p.path, p.args...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	must(t, p.cmd.Start())
	p.done = make(chan struct{})
	go func() { _ = p.cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(p.stop)
}

// stop asks for a graceful stop, kills after 20 s, and waits for the exit.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) waitReady(t *testing.T, within time.Duration) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("%s exited before it was ready; see %s", p.name, p.log)
		default:
		}
		resp, err := http.Get(p.ready)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s not ready within %s; see %s", p.name, within, p.log)
}

// dataStorageStub stands in for kubernaut's DataStorage service, which the
// gateway requires: it will not start without a DataStorage URL, and its
// readiness asks DataStorage's. It answers readiness and accepts audit
// batches. (Outside a pod the gateway's audit writes never reach it: they
// authenticate with the token file at the pod's fixed path, fail, and are
// dropped after their retries, off the path that creates and counts RRs.)
type dataStorageStub struct{ url string }

func startDataStorageStub(t *testing.T) *dataStorageStub {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost && r.URL.Path == "/api/v1/audit/events/batch" {
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"event_ids":[],"message":"stub"}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	t.Cleanup(srv.Close)
	return &dataStorageStub{url: srv.URL}
}
