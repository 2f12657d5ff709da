package counter

import "github.com/prometheus/client_golang/prometheus"

// Metrics are a Counter's Prometheus metrics. Their names are the caller's
// (the gateway's pipeline registers them as rrguard_gateway_*).
type Metrics struct {
	// Coalesced counts the signals that rode on another signal's API
	// write: a batch of n adds n-1.
	Coalesced prometheus.Counter
	// Conflicts counts count writes refused because the request changed
	// since it was read.
	Conflicts prometheus.Counter
	// Batches observes how many signals each API write counted.
	Batches prometheus.Histogram
	// Settled counts the count writes whose answer was lost, or was a
	// Conflict to a send client-go repeated, by what settling them found:
	// landed, not_landed or unknown.
	Settled *prometheus.CounterVec
	// Panics counts the batches whose counting panicked: their signals were
	// answered as failed, and the process kept serving.
	Panics prometheus.Counter
}
