package main

import (
	"flag"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rrguard/rrguard/test/reference"
)

// TestTheReferenceStatesEveryFlagAndMetric holds the webhook's section of
// docs/reference.md to the flags the binary binds and the metrics its setup
// registers. The cases with a WantDiff are the negative controls: the same
// check on a flag set, a registry or a reference changed by one line.
func TestTheReferenceStatesEveryFlagAndMetric(t *testing.T) {
	reference.Run(t, "cmd/webhook", func(fs *flag.FlagSet) { NewOptions().BindFlags(fs) }, reference.WebhookMetrics, map[string]reference.Case{
		"the binary as built":           {},
		"a flag added without its line": {Flag: "undocumented", WantDiff: "flag --undocumented is registered, not in"},
		"a metric added without its line": {
			Metric:   prometheus.NewCounter(prometheus.CounterOpts{Name: "rrguard_webhook_undocumented_total", Help: "x"}),
			WantDiff: "metric rrguard_webhook_undocumented_total is registered, not in",
		},
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
