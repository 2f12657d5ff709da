package main

import (
	"flag"
	"testing"

	"github.com/rrguard/rrguard/test/reference"
)

// TestTheReferenceStatesEveryFlagAndMetric holds the gateway's section of
// docs/reference.md to the flags the binary binds and the metrics its setup
// registers. Its negative controls: the same check on a reference changed
// by one line, here, and on a flag set or a registry with one more (Run).
func TestTheReferenceStatesEveryFlagAndMetric(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "") // the default, as outside a pod
	reference.Run(t, "cmd/gateway", func(fs *flag.FlagSet) { NewOptions().BindFlags(fs) }, reference.GatewayMetrics, map[string]reference.Case{
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
