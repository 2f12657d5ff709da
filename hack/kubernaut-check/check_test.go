//go:build kubernautcheck

// Package kubernautcheck runs kubernaut's own gateway, built from its
// source, against a real kube-apiserver with rrguard's webhook in front of
// the RemediationRequest CRD, and counts what comes of a storm of
// Alertmanager notifications. It is run by hand (run.sh), never by `make
// test`: it needs a kubernaut source tree. See README.md.
package kubernautcheck

import (
	"flag"
	"fmt"
	"os"
	"testing"
	"time"
)

var (
	kubernautGateway = flag.String("kubernaut-gateway", "", "kubernaut's gateway binary (run.sh builds it from the source tree's cmd/gateway).")
	kubernautCRD     = flag.String("kubernaut-crd", "", "kubernaut's RemediationRequest CRD (the tree's config/crd/bases/kubernaut.ai_remediationrequests.yaml).")
	rrguardBin       = flag.String("rrguard-bin", "", "The folder with rrguard's webhook and rrguard-scan binaries.")
	withWebhook      = flag.Bool("webhook", true, "Register rrguard's webhook; false measures kubernaut alone.")
	failurePolicy    = flag.String("failure-policy", "Fail", "The webhook registration's failurePolicy: Fail or Ignore.")
	webhookArgs      = flag.String("webhook-args", "", "Extra flags for rrguard's webhook, space-separated.")
	replicas         = flag.Int("replicas", 2, "kubernaut gateway replicas (each with POD_NAME set: its Lease lock on).")
	rounds           = flag.Int("rounds", 20, "Rounds: each a new incident, posted -burst times at once; rounds back to back.")
	burst            = flag.Int("burst", 32, "Identical notifications per round, posted at once, alternating over the replicas.")
	roundGap         = flag.Duration("round-gap", 0, "Pause between rounds.")
	resend5xx        = flag.Bool("resend-5xx", false, "Send a notification answered 5xx again, as Alertmanager does (exponential backoff from 500 ms, x1.5, ±50 %).")
	resendFor        = flag.Duration("resend-for", 10*time.Second, "How long a notification is sent again (Alertmanager: until its group's flush times out, at least 10 s).")
	outage           = flag.Duration("outage", 0, "Outage mode (instead of rounds): stop every webhook replica for this long in the middle of a storm of new and repeated incidents.")
	stormFor         = flag.Duration("storm-for", 120*time.Second, "Outage mode: how long the storm lasts; the outage starts at a quarter of it.")
	keep             = flag.String("keep-logs", "", "Copy the processes' logs into this folder.")
)

// TestKubernautGateway is the check. Its figures are the output; it fails
// only when the rig cannot run.
func TestKubernautGateway(t *testing.T) {
	for name, v := range map[string]string{"-kubernaut-gateway": *kubernautGateway, "-kubernaut-crd": *kubernautCRD, "-rrguard-bin": *rrguardBin} {
		if v == "" {
			t.Fatalf("%s is required (run hack/kubernaut-check/run.sh)", name)
		}
	}
	if *failurePolicy != "Fail" && *failurePolicy != "Ignore" {
		t.Fatalf("-failure-policy %q: Fail or Ignore", *failurePolicy)
	}
	rig := startRig(t)
	if *outage > 0 {
		if !*withWebhook {
			t.Fatal("-outage needs the webhook")
		}
		report := runOutage(t, rig)
		report.print(os.Stdout)
		return
	}
	pods := make([]string, *rounds)
	for i := range pods {
		pods[i] = fmt.Sprintf("api-%d", i+1)
	}
	createPods(t, rig, pods...)
	var results []roundResult
	for _, pod := range pods {
		results = append(results, runRound(rig, pod))
		time.Sleep(*roundGap)
	}
	summarize(t, rig, results).print(os.Stdout)
}
