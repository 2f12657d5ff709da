package reference

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rrguard/rrguard/gateway/httpapi"
	"github.com/rrguard/rrguard/gateway/pipeline"
	"github.com/rrguard/rrguard/scan"
	"github.com/rrguard/rrguard/webhook"
)

// The metrics each binary registers, as its setup does: webhook.Setup
// registers the webhook's and, for the leader's scan job, the scan's;
// gateway.Setup the HTTP layer's and the pipeline's.
// TestEveryMetricsConstructorIsWired holds these to every NewMetrics of the
// module.
func WebhookMetrics(reg prometheus.Registerer) {
	webhook.NewMetrics(reg)
	scan.NewMetrics(reg)
}

// GatewayMetrics: see WebhookMetrics.
func GatewayMetrics(reg prometheus.Registerer) {
	httpapi.NewMetrics(reg)
	pipeline.NewMetrics(reg)
}

// Verify reads the reference under root and checks binary's section
// against the flags of fs and the metrics register registers.
func Verify(markdown, binary string, flags []Flag, register func(prometheus.Registerer)) ([]string, error) {
	doc, err := ParseDoc(markdown, binary)
	if err != nil {
		return nil, err
	}
	metrics, err := Metrics(register)
	if err != nil {
		return nil, err
	}
	return Check(doc, flags, metrics), nil
}
