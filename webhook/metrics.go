package webhook

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/rrguard/rrguard/dedup"
)

// Metrics are the webhook's Prometheus metrics.
type Metrics struct {
	admissions          *prometheus.CounterVec
	latency             *prometheus.HistogramVec
	claimConflicts      prometheus.Counter
	staleClaimsRemoved  prometheus.Counter
	janitorMarkedClaims prometheus.Counter
	// invalidEnforcementLabels counts, by namespace, the denials decided
	// under the flag's mode because the namespace's EnforcementLabel had
	// an unknown value.
	invalidEnforcementLabels *prometheus.CounterVec
	// deniedCounts counts the denied creates of counted creators by what
	// became of their signal: counted, alreadyCounted or failed.
	deniedCounts *prometheus.CounterVec
}

// allReasons are every reason a decision can carry, so that their series
// exist before the first admission.
var allReasons = []dedup.Reason{
	dedup.ReasonUnique, dedup.ReasonReactivated, dedup.ReasonDuplicate, dedup.ReasonClaimInFlight,
	dedup.ReasonInvalid, ReasonError, ReasonNotApplicable,
}

// NewMetrics registers the webhook's metrics with reg: controller-runtime's
// metrics.Registry in the binary, a fresh registry in tests.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		admissions: f.NewCounterVec(prometheus.CounterOpts{
			Name: "rrguard_webhook_admissions_total",
			Help: "Admission decisions by decision (allowed, denied, warned: a denial admitted with a warning in warn mode) and reason.",
		}, []string{"decision", "reason"}),
		latency: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rrguard_webhook_admission_duration_seconds",
			Help:    "Time to decide one admission, by reason.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"reason"}),
		claimConflicts: f.NewCounter(prometheus.CounterOpts{
			Name: "rrguard_webhook_claim_conflicts_total",
			Help: "Claim compare-and-swap losses (AlreadyExists or Conflict) that restarted a decision.",
		}),
		staleClaimsRemoved: f.NewCounter(prometheus.CounterOpts{
			Name: "rrguard_webhook_stale_claims_removed_total",
			Help: "Claims the janitor deleted because their holder was gone or inactive past the retention period.",
		}),
		janitorMarkedClaims: f.NewCounter(prometheus.CounterOpts{
			Name: "rrguard_webhook_claims_marked_inactive_total",
			Help: "Claims the janitor first saw with a gone or inactive holder.",
		}),
		invalidEnforcementLabels: f.NewCounterVec(prometheus.CounterOpts{
			Name: "rrguard_webhook_enforcement_label_invalid_total",
			Help: "Denials in a namespace whose " + EnforcementLabel + " label has an unknown value, decided under --enforcement instead, by namespace.",
		}, []string{"namespace"}),
		deniedCounts: f.NewCounterVec(prometheus.CounterOpts{
			Name: "rrguard_webhook_denied_creates_counted_total",
			Help: "Duplicate creates of a --count-denied-creators creator, by what became of their signal on the holder: counted, alreadyCounted (the API server asked again about a counted request) or failed.",
		}, []string{"outcome"}),
	}
	for _, r := range allReasons {
		for _, d := range []string{"allowed", "denied", "warned"} {
			m.admissions.WithLabelValues(d, string(r))
		}
		m.latency.WithLabelValues(string(r))
	}
	return m
}

func (m *Metrics) observe(r auditRecord) {
	m.admissions.WithLabelValues(r.decision(), string(r.reason)).Inc()
	m.latency.WithLabelValues(string(r.reason)).Observe(r.latency.Seconds())
}
