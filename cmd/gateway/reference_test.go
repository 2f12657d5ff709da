package main

import (
	"flag"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rrguard/rrguard/test/reference"
)

// TestTheReferenceStatesEveryFlagAndMetric holds the gateway's section of
// docs/reference.md to the flags the binary binds and the metrics its setup
// registers. The cases with a WantDiff are the negative controls: the same
// check on a flag set, a registry or a reference changed by one line.
func TestTheReferenceStatesEveryFlagAndMetric(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "") // the default, as outside a pod
	reference.Run(t, "cmd/gateway", func(fs *flag.FlagSet) { NewOptions().BindFlags(fs) }, reference.GatewayMetrics, map[string]reference.Case{
		"the binary as built":           {},
		"a flag added without its line": {Flag: "undocumented", WantDiff: "flag --undocumented is registered, not in"},
		"a metric added without its line": {
			Metric:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "rrguard_gateway_undocumented", Help: "x"}),
			WantDiff: "metric rrguard_gateway_undocumented is registered, not in",
		},
		"a line with another type": {
			Old: "| `--request-timeout` | `duration` |", New: "| `--request-timeout` | `string` |", WantDiff: "flag --request-timeout: registered",
		},
		"a line whose metric is gone": {
			Old:      "| `rrguard_gateway_batch_size` |",
			New:      "| `rrguard_gateway_gone_total` | `counter` | — | x |\n| `rrguard_gateway_batch_size` |",
			WantDiff: "metric rrguard_gateway_gone_total is in",
		},
	})
}
