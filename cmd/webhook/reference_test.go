package main

import (
	"flag"
	"testing"

	"github.com/rrguard/rrguard/test/reference"
)

// TestTheReferenceStatesEveryFlagAndMetric holds the webhook's section of
// docs/reference.md to the flags the binary binds and the metrics its setup
// registers. Its negative controls: the same check on a reference changed
// by one line, here, and on a flag set or a registry with one more (Run).
func TestTheReferenceStatesEveryFlagAndMetric(t *testing.T) {
	reference.Run(t, "cmd/webhook", func(fs *flag.FlagSet) { NewOptions().BindFlags(fs) }, reference.WebhookMetrics, map[string]reference.Case{
		"a line whose flag is gone": {
			Old: "| `--kubeconfig` |", New: "| `--gone` | `bool` | `false` | x |\n| `--kubeconfig` |", WantDiff: "flag --gone is in",
		},
		"a line with another default": {
			Old: "| `--webhook-port` | `int` | `9443` |", New: "| `--webhook-port` | `int` | `9444` |", WantDiff: "flag --webhook-port: registered",
		},
		"a metric with another label": {
			Old:      "| `rrguard_webhook_admission_duration_seconds` | `histogram` | `reason` |",
			New:      "| `rrguard_webhook_admission_duration_seconds` | `histogram` | `decision` |",
			WantDiff: "metric rrguard_webhook_admission_duration_seconds: registered",
		},
	})
}
