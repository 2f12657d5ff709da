package load_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// cpuUse is the CPU time the parts of a run used: what limits a figure on a
// machine where all of them share the cores.
type cpuUse struct {
	apiserver, etcd, self time.Duration
}

func (c cpuUse) sub(d cpuUse) cpuUse {
	return cpuUse{c.apiserver - d.apiserver, c.etcd - d.etcd, c.self - d.self}
}

// perSignal formats c per signal, in milliseconds of CPU.
func (c cpuUse) perSignal(signals int) string {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(signals) }
	return fmt.Sprintf("CPU per signal: kube-apiserver %.2f ms, etcd %.2f ms, this process (gateway, webhook, load) %.2f ms",
		ms(c.apiserver), ms(c.etcd), ms(c.self))
}

// cpuNow reads the CPU time used so far by the control plane's processes
// (found by their binaries under KUBEBUILDER_ASSETS) and by this process.
func cpuNow(t testing.TB) cpuUse {
	t.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	var c cpuUse
	c.self = procCPU(t, "/proc/self/stat")
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		exe, err := os.Readlink(filepath.Join(d, "exe"))
		if err != nil || assets == "" || !strings.HasPrefix(exe, assets) {
			continue
		}
		switch filepath.Base(exe) {
		case "kube-apiserver":
			c.apiserver += procCPU(t, filepath.Join(d, "stat"))
		case "etcd":
			c.etcd += procCPU(t, filepath.Join(d, "stat"))
		}
	}
	return c
}

// procCPU returns utime+stime from a /proc/<pid>/stat file.
func procCPU(t testing.TB, path string) time.Duration {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	// The command may hold spaces; the fields start after its ")".
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		t.Fatalf("%s: unexpected format", path)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks
}

// profileAPIServer records, when RRGUARD_BENCH_PROFILE_DIR is set, a CPU
// profile of kube-apiserver over the next seconds into that directory as
// name.pprof (read it with go tool pprof -top). It returns at once; the
// returned wait blocks until the profile is written, so that the next run's
// profile does not find the profiler busy.
func profileAPIServer(t testing.TB, cfg *rest.Config, name string, seconds int) (wait func()) {
	dir := os.Getenv("RRGUARD_BENCH_PROFILE_DIR")
	if dir == "" {
		return func() {}
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Errorf("profile %s: %v", name, err)
		return func() {}
	}
	url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimSuffix(cfg.Host, "/"), seconds)
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := hc.Get(url)
		if err != nil {
			t.Errorf("profile %s: %v", name, err)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			t.Errorf("profile %s: %s: %s", name, resp.Status, msg)
			return
		}
		f, err := os.Create(filepath.Join(dir, name+".pprof"))
		if err != nil {
			t.Errorf("profile %s: %v", name, err)
			return
		}
		defer f.Close()
		if _, err := io.Copy(f, resp.Body); err != nil {
			t.Errorf("profile %s: %v", name, err)
		}
	}()
	return func() { <-done }
}
