package gateway_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"k8s.io/client-go/kubernetes"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/rrguard/rrguard/gateway/httpapi"
)

// An accepted token is trusted until the earlier of its expiry and the
// cache TTL, then reviewed again. The token is a real bound ServiceAccount
// token of the shortest life the API server issues (10 minutes); the
// authenticator's clock is moved instead of waiting for it, so the API
// server, on its own clock, still accepts the token when it is asked
// again: the test counts the reviews.
func TestAnAcceptedTokenIsTrustedNoLongerThanItLives(t *testing.T) {
	ns := env.Namespace(t)
	grantSignals(t, ns, "alertmanager")
	tr := requestToken(t, ns, "alertmanager", 600, httpapi.DefaultAudience)
	issued := time.Now()
	expiry := tr.Status.ExpirationTimestamp.Time
	cs := kubernetes.NewForConfigOrDie(env.Config)

	tests := []struct {
		name string
		ttl  time.Duration
		// at are the authenticator's clock at each request, and
		// reviews the TokenReviews made by then.
		at      []time.Time
		reviews []float64
	}{
		{
			name:    "a token that expires before the TTL is reviewed again at its expiry",
			ttl:     time.Hour,
			at:      []time.Time{issued, expiry.Add(-time.Second), expiry.Add(time.Second)},
			reviews: []float64{1, 1, 2},
		},
		{
			name:    "a token that outlives the TTL is reviewed again at the TTL",
			ttl:     5 * time.Minute,
			at:      []time.Time{issued, issued.Add(5*time.Minute - time.Second), issued.Add(5*time.Minute + time.Second)},
			reviews: []float64{1, 1, 2},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := clocktesting.NewFakePassiveClock(issued)
			m := httpapi.NewMetrics(prometheus.NewRegistry())
			a := httpapi.NewTokenReviewAuthenticator(cs.AuthenticationV1(), cs.AuthorizationV1(), httpapi.TokenReviewOptions{
				CacheTTL: tc.ttl, Clock: clock, Metrics: m,
			})
			for i, at := range tc.at {
				clock.SetTime(at)
				r := httptest.NewRequest("POST", httpapi.PrometheusPath, nil)
				r.Header.Set("Authorization", "Bearer "+tr.Status.Token)
				if err := a.Authenticate(r); err != nil {
					t.Fatalf("request %d, %s after issue: %v", i, at.Sub(issued).Round(time.Second), err)
				}
				var got dto.Metric
				if err := m.TokenReviews.WithLabelValues("accepted").Write(&got); err != nil {
					t.Fatal(err)
				}
				if got.GetCounter().GetValue() != tc.reviews[i] {
					t.Errorf("request %d, %s after issue (expiry %s after): %v reviews, want %v",
						i, at.Sub(issued).Round(time.Second), expiry.Sub(issued).Round(time.Second), got.GetCounter().GetValue(), tc.reviews[i])
				}
			}
		})
	}
}
