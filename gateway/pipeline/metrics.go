package pipeline

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/rrguard/rrguard/counter"
)

// Metrics are the pipeline's Prometheus metrics: its counter's.
type Metrics = counter.Metrics

// NewMetrics registers the pipeline's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		Coalesced: f.NewCounter(prometheus.CounterOpts{
			Name: "rrguard_gateway_coalesced_signals_total",
			Help: "Signals counted by the API write of another signal of the same fingerprint.",
		}),
		Conflicts: f.NewCounter(prometheus.CounterOpts{
			Name: "rrguard_gateway_status_update_conflicts_total",
			Help: "Deduplication status writes that did not land because the RemediationRequest changed since it was read (a conflict).",
		}),
		Batches: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "rrguard_gateway_batch_size",
			Help:    "Signals counted per API write.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		Settled: f.NewCounterVec(prometheus.CounterOpts{
			Name: "rrguard_gateway_settled_writes_total",
			Help: "Deduplication status writes whose answer was lost, or that got a conflict after client-go sent them again, by whether they had landed: landed, not_landed, unknown (the signal was answered 503).",
		}, []string{"verdict"}),
		Panics: f.NewCounter(prometheus.CounterOpts{
			Name: "rrguard_gateway_batch_panics_total",
			Help: "Batches whose counting panicked (a bug): their signals were answered 503 and the gateway kept serving the other fingerprints.",
		}),
	}
	// Every verdict's series exists from the start, so that the first
	// unknown one is an increase an alert sees.
	for _, v := range []string{"landed", "not_landed", "unknown"} {
		m.Settled.WithLabelValues(v)
	}
	return m
}
