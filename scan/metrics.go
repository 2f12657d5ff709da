package scan

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/rrguard/rrguard/dedup"
)

// Metrics are the scan's Prometheus metrics, as of the last scan.
type Metrics struct {
	duplicates  prometheus.Gauge
	staleClaims prometheus.Gauge
	adopted     *prometheus.CounterVec
	runs        *prometheus.CounterVec
	lastSuccess prometheus.Gauge
	duration    prometheus.Gauge
}

// NewMetrics registers the scan's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		duplicates: f.NewGauge(prometheus.GaugeOpts{
			Name: "rrguard_duplicate_active_fingerprints",
			Help: "Fingerprints (per namespace) with more than one active RemediationRequest, as of the last scan.",
		}),
		staleClaims: f.NewGauge(prometheus.GaugeOpts{
			Name: "rrguard_scan_stale_claims",
			Help: "Claims whose holder is gone or inactive, as of the last scan; the janitor removes them after the retention.",
		}),
		adopted: f.NewCounterVec(prometheus.CounterOpts{
			Name: "rrguard_scan_adopted_claims_total",
			Help: "Claims the scan gave to an unclaimed active RemediationRequest, by action (created, takenOver).",
		}, []string{"action"}),
		runs: f.NewCounterVec(prometheus.CounterOpts{
			Name: "rrguard_scan_runs_total",
			Help: "Scans by result (success, error).",
		}, []string{"result"}),
		lastSuccess: f.NewGauge(prometheus.GaugeOpts{
			Name: "rrguard_scan_last_success_timestamp_seconds",
			Help: "When the last scan that read every RemediationRequest started, in Unix seconds.",
		}),
		duration: f.NewGauge(prometheus.GaugeOpts{
			Name: "rrguard_scan_duration_seconds",
			Help: "How long the last scan took.",
		}),
	}
	for _, a := range []dedup.ClaimAction{dedup.ClaimCreated, dedup.ClaimTakenOver} {
		m.adopted.WithLabelValues(string(a))
	}
	for _, r := range []string{"success", "error"} {
		m.runs.WithLabelValues(r)
	}
	return m
}
