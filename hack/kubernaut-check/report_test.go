//go:build kubernautcheck

package kubernautcheck

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
)

// createPods stores the pods the alerts are about: kubernaut's gateway
// resolves an alert's pod to its top-level owner and drops the alert when
// the pod does not exist. These pods have no owner, so the fingerprint is
// the pod's own: SHA-256 of "namespace:Pod:name".
func createPods(t *testing.T, r *rig, names ...string) {
	for _, n := range names {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: alertNS, Name: n},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}},
		}
		must(t, r.env.Client.Create(context.Background(), pod))
	}
}

// fingerprintOf is kubernaut's fingerprint of an ownerless pod of alertNS.
func fingerprintOf(pod string) string {
	sum := sha256.Sum256([]byte(alertNS + ":Pod:" + pod))
	return hex.EncodeToString(sum[:])
}

// incident is what came of one incident's notifications.
type incident struct {
	pod     string
	answers []answer
	// active and stored RRs of its fingerprint, the sum of their counts.
	active, stored, occurrences int
	// giveUps are count updates kubernaut's log says it gave up after
	// conflicts; notFound, updates of an RR it had just been told was
	// created and that was never stored; createFailures, the requests
	// kubernaut answered 500 because its create failed, by cause.
	giveUps, notFound int
	createFailures    map[string]int
	// webhookCounts are the webhook's own counts of the creates it
	// denied (its audit line's "count": counted, failed), when it counts
	// for kubernaut's gateway (--count-denied-creators).
	webhookCounts map[string]int
}

func (in *incident) codes() map[int]int {
	out := map[int]int{}
	for _, a := range in.answers {
		out[a.code]++
	}
	return out
}

func (in *incident) answered2xx() int {
	n := 0
	for _, a := range in.answers {
		if a.code >= 200 && a.code < 300 {
			n++
		}
	}
	return n
}

// collect lists the RRs and reads the gateways' logs, by incident.
func collect(t *testing.T, r *rig, answers map[string][]answer) map[string]*incident {
	byFP := map[string]*incident{}
	out := map[string]*incident{}
	for pod, a := range answers {
		in := &incident{pod: pod, answers: a, createFailures: map[string]int{}, webhookCounts: map[string]int{}}
		out[pod], byFP[fingerprintOf(pod)] = in, in
	}
	var list v1alpha1.RemediationRequestList
	must(t, r.env.Client.List(context.Background(), &list, client.InNamespace(kubernautNS)))
	for i := range list.Items {
		rr := &list.Items[i]
		in := byFP[rr.Spec.SignalFingerprint]
		if in == nil {
			t.Errorf("RR %s has a fingerprint no incident has: %s", rr.Name, rr.Spec.SignalFingerprint)
			continue
		}
		in.stored++
		if dedup.IsActive(rr) {
			in.active++
		}
		if rr.Status.Deduplication != nil {
			in.occurrences += int(rr.Status.Deduplication.OccurrenceCount)
		}
	}
	for _, g := range r.gateways {
		readLog(t, g.log, byFP)
	}
	if r.webhook != nil {
		readWebhookLog(t, r.webhook.log, byFP)
	}
	return out
}

// readWebhookLog attributes the webhook's counts of denied creates to
// incidents, from its audit lines.
func readWebhookLog(t *testing.T, path string, byFP map[string]*incident) {
	eachLine(t, path, func(b []byte) {
		var line struct {
			Msg         string `json:"msg"`
			Fingerprint string `json:"fingerprint"`
			Count       string `json:"count"`
		}
		if json.Unmarshal(b, &line) != nil || line.Msg != "admission decision" || line.Count == "" || line.Count == "none" {
			return
		}
		if in := byFP[line.Fingerprint]; in != nil {
			in.webhookCounts[line.Count]++
		}
	})
}

// eachLine calls f with each line of the file at path.
func eachLine(t *testing.T, path string, f func([]byte)) {
	file, err := os.Open(path)
	must(t, err)
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f(sc.Bytes())
	}
	must(t, sc.Err())
}

// readLog attributes kubernaut's log lines to incidents by fingerprint.
func readLog(t *testing.T, path string, byFP map[string]*incident) {
	eachLine(t, path, func(b []byte) {
		var line struct {
			Msg         string `json:"msg"`
			Fingerprint string `json:"fingerprint"`
			Error       string `json:"error"`
			RequestID   string `json:"request_id"`
		}
		if json.Unmarshal(b, &line) != nil {
			return
		}
		in := byFP[line.Fingerprint]
		if in == nil {
			return
		}
		switch line.Msg {
		case "Failed to update deduplication status after lock contention", "Failed to initialize deduplication status (DD-GATEWAY-011)":
			if strings.Contains(line.Error, "not found") {
				in.notFound++
			} else {
				in.giveUps++
			}
		case "Failed to create RemediationRequest CRD":
			// Logged twice: by the creator, and by the request's handler,
			// which answers 500. The handler's line is one per answer.
			if line.RequestID != "" {
				in.createFailures[createFailureCause(line.Error)]++
			}
		}
	})
}

// createFailureCause names why kubernaut's create failed, from its error.
func createFailureCause(err string) string {
	switch {
	case strings.Contains(err, "denied the request"):
		return "denied"
	case strings.Contains(err, "circuit breaker is open"), strings.Contains(err, "open state"):
		return "breaker-open"
	case strings.Contains(err, "too many requests"):
		return "breaker-half-open"
	case strings.Contains(err, "failed calling webhook"):
		return "webhook-unreachable"
	default:
		return "other"
	}
}

// totals sums incidents.
type totals struct {
	incidents, exactlyOne, none, more, extra int
	codes                                    map[int]int
	answered2xx, occurrences                 int
	giveUps, notFound                        int
	createFailures, webhookCounts            map[string]int
}

func sum(ins []*incident) totals {
	s := totals{codes: map[int]int{}, createFailures: map[string]int{}, webhookCounts: map[string]int{}}
	for _, in := range ins {
		s.incidents++
		switch {
		case in.active == 1:
			s.exactlyOne++
		case in.active == 0:
			s.none++
		default:
			s.more++
			s.extra += in.active - 1
		}
		for c, n := range in.codes() {
			s.codes[c] += n
		}
		s.answered2xx += in.answered2xx()
		s.occurrences += in.occurrences
		s.giveUps += in.giveUps
		s.notFound += in.notFound
		for c, n := range in.createFailures {
			s.createFailures[c] += n
		}
		for c, n := range in.webhookCounts {
			s.webhookCounts[c] += n
		}
	}
	return s
}

func (s totals) print(w io.Writer, label string) {
	fmt.Fprintf(w, "%s: %d incidents: exactly one active RR %d, none %d, more than one %d (%d extra RRs)\n",
		label, s.incidents, s.exactlyOne, s.none, s.more, s.extra)
	fmt.Fprintf(w, "  answers: %s\n", formatCodes(s.codes))
	fmt.Fprintf(w, "  answered 500 because the create failed, by cause: %s\n", formatCounts(s.createFailures))
	fmt.Fprintf(w, "  sum of occurrenceCount %d; answered 2xx %d; count updates kubernaut gave up after conflicts %d; "+
		"2xx minus give-ups %d (equal: %v)\n",
		s.occurrences, s.answered2xx, s.giveUps, s.answered2xx-s.giveUps, s.occurrences == s.answered2xx-s.giveUps)
	fmt.Fprintf(w, "  creates kubernaut answered 201 that were denied AlreadyExists (its count of the name fails NotFound) %d; "+
		"the webhook's counts of denied creates: %s\n", s.notFound, formatCounts(s.webhookCounts))
}

func formatCodes(m map[int]int) string {
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(m)) {
		name := fmt.Sprint(c)
		if c == 0 {
			name = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%s x%d", name, m[c]))
	}
	return strings.Join(parts, ", ")
}

func formatCounts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s x%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// roundsReport is the rounds mode's output.
type roundsReport struct {
	rounds []*incident
}

func summarize(t *testing.T, r *rig, results []roundResult) roundsReport {
	time.Sleep(2 * time.Second) // the gateways' last log lines
	answers := map[string][]answer{}
	for _, res := range results {
		answers[res.pod] = res.answers
	}
	ins := collect(t, r, answers)
	rep := roundsReport{}
	for _, res := range results {
		rep.rounds = append(rep.rounds, ins[res.pod])
	}
	return rep
}

func (rep roundsReport) print(w io.Writer) {
	fmt.Fprintf(w, "\n%s\n", settings())
	fmt.Fprintf(w, "round  active  answers                          occurrences  give-ups  not-found  webhook counts        500s by cause\n")
	for i, in := range rep.rounds {
		fmt.Fprintf(w, "%5d  %6d  %-31s  %11d  %8d  %9d  %-20s  %s\n", i+1, in.active, formatCodes(in.codes()),
			in.occurrences, in.giveUps, in.notFound, formatCounts(in.webhookCounts), formatCounts(in.createFailures))
	}
	sum(rep.rounds).print(w, "total")
}

func settings() string {
	hook := "no webhook"
	if *withWebhook {
		hook = "rrguard's webhook, failurePolicy " + *failurePolicy
		if *webhookArgs != "" {
			hook += ", webhook flags " + *webhookArgs
		}
	}
	resend := "no resend"
	if *resend5xx {
		resend = fmt.Sprintf("5xx sent again for %s", *resendFor)
	}
	return fmt.Sprintf("kubernaut gateway x%d, %s, %s", *replicas, hook, resend)
}
