package httpapi

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/rrguard/rrguard/gateway/pipeline"
	"github.com/rrguard/rrguard/gateway/signal"
)

// The limits a request can be throttled by (429), as the throttled
// requests metric names them.
const (
	// limitRequests: the requests in flight (Options.MaxRequestsInFlight).
	limitRequests = "requests"
	// limitTokenReviews: the token reviews in flight
	// (TokenReviewOptions.MaxInFlightReviews).
	limitTokenReviews = "token-reviews"
)

// Metrics are the HTTP layer's Prometheus metrics.
type Metrics struct {
	// Signals counts signals by source and outcome.
	Signals *prometheus.CounterVec
	// Latency observes request durations by endpoint and status code.
	Latency *prometheus.HistogramVec
	// Throttled counts requests answered 429, by the limit they hit.
	Throttled *prometheus.CounterVec
	// TokenReviews counts the TokenReviews asked for by result (accepted,
	// refused, error), those not asked because too many were in flight
	// (throttled), and those not needed because the token was no JWT bound
	// to the gateway's audience (skipped).
	TokenReviews *prometheus.CounterVec
}

// NewMetrics registers the HTTP metrics with reg, with every source and
// outcome's series created up front.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		Signals: f.NewCounterVec(prometheus.CounterOpts{
			Name: "rrguard_gateway_signals_total",
			Help: "Signals received, by source (prometheus, kubernetes-event) and outcome (created, duplicate, ignored, rejected, failed).",
		}, []string{"source", "outcome"}),
		Latency: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rrguard_gateway_request_duration_seconds",
			Help:    "Duration of signal requests, by endpoint and HTTP status code.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30},
		}, []string{"endpoint", "code"}),
		Throttled: f.NewCounterVec(prometheus.CounterOpts{
			Name: "rrguard_gateway_throttled_requests_total",
			Help: "Requests answered 429 because a limit was reached, by limit (requests: --max-requests-inflight, token-reviews: --max-token-reviews-inflight).",
		}, []string{"limit"}),
		TokenReviews: f.NewCounterVec(prometheus.CounterOpts{
			Name: "rrguard_gateway_token_reviews_total",
			Help: "TokenReviews of callers' tokens by result (accepted, refused, error), reviews not made because too many were in flight (throttled) or because the token was no JWT bound to the gateway's audience (skipped). Cached answers are not counted.",
		}, []string{"result"}),
	}
	for _, l := range []string{limitRequests, limitTokenReviews} {
		m.Throttled.WithLabelValues(l)
	}
	for _, r := range []string{"accepted", "refused", "error", "throttled", "skipped"} {
		m.TokenReviews.WithLabelValues(r)
	}
	for _, src := range []string{signal.TypePrometheus, signal.TypeKubernetesEvent} {
		for _, o := range pipeline.Outcomes {
			m.Signals.WithLabelValues(src, string(o))
		}
	}
	return m
}
