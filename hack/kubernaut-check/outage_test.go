//go:build kubernautcheck

package kubernautcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	stormCopies  = flag.Int("storm-copies", 4, "Outage mode: identical notifications per incident per tick, posted at once.")
	stormRepeats = flag.Int("storm-repeats", 2, "Outage mode: earlier incidents notified again per tick.")
)

// outageReport is the outage mode's output.
type outageReport struct {
	all, during, outside []*incident
	// webhookLog counts the restarted webhook's scan lines by message.
	webhookLog map[string]int
	scanExit   int
	scanOut    string
}

// runOutage posts a storm — every second one new incident and repeats of
// earlier ones — and stops the webhook for -outage from a quarter of
// -storm-for on.
func runOutage(t *testing.T, r *rig) outageReport {
	ticks := int(*stormFor / time.Second)
	pods := make([]string, ticks)
	for i := range pods {
		pods[i] = fmt.Sprintf("inc-%03d", i)
	}
	createPods(t, r, pods...)
	log := &stormLog{answers: map[string][]answer{}, during: map[string]bool{}}
	down, up := *stormFor/4, *stormFor/4+*outage
	start := time.Now()
	var wg sync.WaitGroup
	go func() {
		time.Sleep(down)
		r.webhook.stop()
		fmt.Printf("%5.1fs webhook stopped\n", time.Since(start).Seconds())
		time.Sleep(*outage)
		r.webhook.start(t)
		r.webhook.waitReady(t, 60*time.Second)
		fmt.Printf("%5.1fs webhook serving again\n", time.Since(start).Seconds())
	}()
	for i, pod := range pods {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second)))
		at := time.Since(start)
		log.during[pod] = at >= down && at < up
		firing := time.Now()
		wg.Go(func() { log.add(pod, r.burstOf(pod, firing, *stormCopies)) })
		for range min(*stormRepeats, i) {
			old := pods[rand.IntN(i)]
			wg.Go(func() { log.add(old, r.burstOf(old, firing, *stormCopies)) })
		}
	}
	wg.Wait()
	time.Sleep(max(0, time.Until(start.Add(up+5*time.Second)))) // the webhook is back and has scanned
	time.Sleep(2 * time.Second)
	return outageResult(t, r, log)
}

func outageResult(t *testing.T, r *rig, log *stormLog) outageReport {
	ins := collect(t, r, log.answers)
	rep := outageReport{webhookLog: countMessages(t, r.webhook.log,
		"duplicate active fingerprint", "claim adopted")}
	for pod, in := range ins {
		rep.all = append(rep.all, in)
		if log.during[pod] {
			rep.during = append(rep.during, in)
		} else {
			rep.outside = append(rep.outside, in)
		}
	}
	rep.scanExit, rep.scanOut = runScan(t, r)
	return rep
}

// runScan runs rrguard-scan --dry-run as a user would after the outage.
func runScan(t *testing.T, r *rig) (int, string) {
	cmd := exec.Command(filepath.Join(*rrguardBin, "rrguard-scan"), "--dry-run",
		"--kubeconfig="+filepath.Join(r.dir, "admin.kubeconfig"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	default:
		t.Fatalf("rrguard-scan: %v", err)
		return 0, ""
	}
}

// countMessages counts a JSON log's lines by message, for the messages
// asked about.
func countMessages(t *testing.T, path string, msgs ...string) map[string]int {
	out := map[string]int{}
	eachLine(t, path, func(b []byte) {
		var line struct {
			Msg string `json:"msg"`
		}
		if json.Unmarshal(b, &line) == nil && slices.Contains(msgs, line.Msg) {
			out[line.Msg]++
		}
	})
	return out
}

func (rep outageReport) print(w io.Writer) {
	fmt.Fprintf(w, "\n%s; outage %s of a %s storm (%d copies per notification, %d repeats per second)\n",
		settings(), *outage, *stormFor, *stormCopies, *stormRepeats)
	sum(rep.all).print(w, "all incidents")
	sum(rep.during).print(w, "incidents first notified while the webhook was down")
	sum(rep.outside).print(w, "incidents first notified while it served")
	fmt.Fprintf(w, "  the restarted webhook's scan: %s\n", formatCounts(rep.webhookLog))
	fmt.Fprintf(w, "  rrguard-scan --dry-run afterwards: exit %d\n%s\n", rep.scanExit, indent(rep.scanOut))
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
