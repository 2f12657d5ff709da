package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/gateway/httpapi"
	"github.com/rrguard/rrguard/gateway/signal"
)

// Scenario names a load shape.
type Scenario string

// The load scenarios.
const (
	// Storm: every signal about one fingerprint.
	Storm Scenario = "storm"
	// Spread: every signal about a fingerprint of its own.
	Spread Scenario = "spread"
	// Mixed: signals about Options.Fingerprints fingerprints, Zipf-distributed.
	Mixed Scenario = "mixed"
)

// Scenarios lists the known scenarios.
var Scenarios = []Scenario{Storm, Spread, Mixed}

// Options say what to send where. The zero value of every field but URL
// means its default.
type Options struct {
	// URL is the gateway's base URL, e.g. http://127.0.0.1:8080. Required.
	URL string
	// Token, when set, is sent as a bearer token.
	Token string
	// Scenario defaults to Storm.
	Scenario Scenario
	// Signals is how many signals to send. Defaults to 5000.
	Signals int
	// Concurrency is how many requests are in flight at once. Defaults to 64.
	Concurrency int
	// Fingerprints is how many fingerprints Mixed spreads over. Defaults
	// to 50. Storm uses 1 and Spread one per signal.
	Fingerprints int
	// ZipfS is Mixed's Zipf exponent (> 1). Defaults to 1.1.
	ZipfS float64
	// Seed makes Mixed's sequence repeatable. Defaults to 1.
	Seed uint64
	// TargetNamespace and TargetPrefix name the Deployments the alerts are
	// about: <TargetPrefix>-<n> in TargetNamespace. Default to "load" and
	// "app". Change the prefix between runs to start from fresh incidents.
	TargetNamespace, TargetPrefix string
	// Client sends the requests. Defaults to a client keeping Concurrency
	// connections alive, with a 60s timeout.
	Client *http.Client
}

func (o *Options) setDefaults() error {
	if o.URL == "" {
		return errors.New("load: a gateway URL is required")
	}
	if o.Scenario == "" {
		o.Scenario = Storm
	}
	if o.Signals <= 0 {
		o.Signals = 5000
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	if o.Fingerprints <= 0 {
		o.Fingerprints = 50
	}
	if o.ZipfS <= 1 {
		o.ZipfS = 1.1
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.TargetNamespace == "" {
		o.TargetNamespace = "load"
	}
	if o.TargetPrefix == "" {
		o.TargetPrefix = "app"
	}
	if o.Client == nil {
		o.Client = &http.Client{
			Timeout:   60 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: o.Concurrency, MaxIdleConns: o.Concurrency},
		}
	}
	switch o.Scenario {
	case Storm, Spread, Mixed:
		return nil
	default:
		return fmt.Errorf("load: unknown scenario %q (want one of %v)", o.Scenario, Scenarios)
	}
}

// Target is one incident the load sends signals about.
type Target struct {
	Namespace, Deployment string
	// Fingerprint is the one the gateway computes for the target.
	Fingerprint string
}

// NewTarget returns the target for a Deployment, with the fingerprint the
// gateway computes for it.
func NewTarget(namespace, deployment string) Target {
	fp, err := dedup.Fingerprint(dedup.Target{Namespace: namespace, Kind: "Deployment", Name: deployment})
	if err != nil {
		panic(fmt.Sprintf("fingerprint of deployment %s/%s: %v", namespace, deployment, err))
	}
	return Target{Namespace: namespace, Deployment: deployment, Fingerprint: fp}
}

// Plan returns the targets and, for each signal, the index of its target.
func Plan(o Options) ([]Target, []int, error) {
	if o.URL == "" {
		o.URL = "unused"
	}
	if err := o.setDefaults(); err != nil {
		return nil, nil, err
	}
	n := 1
	switch o.Scenario {
	case Spread:
		n = o.Signals
	case Mixed:
		n = o.Fingerprints
	}
	targets := make([]Target, n)
	for i := range targets {
		targets[i] = NewTarget(o.TargetNamespace, fmt.Sprintf("%s-%d", o.TargetPrefix, i))
	}
	seq := make([]int, o.Signals)
	switch o.Scenario {
	case Spread:
		for i := range seq {
			seq[i] = i
		}
	case Mixed:
		z := rand.NewZipf(rand.New(rand.NewPCG(o.Seed, o.Seed)), o.ZipfS, 1, uint64(n-1))
		for i := range seq {
			seq[i] = int(z.Uint64())
		}
	}
	return targets, seq, nil
}

// Response is what one signal got back.
type Response struct {
	// Target is the index of the signal's target.
	Target int
	// Code is the HTTP status; 0 when the request failed before an answer.
	Code int
	// RetryAfter is the Retry-After header.
	RetryAfter string
	// Counted names the RemediationRequest a 2xx answer counted the signal on.
	Counted string
	// Err is a transport error or an unexpected answer.
	Err     error
	Latency time.Duration
}

// OK reports a 2xx answer: the signal was counted.
func (r Response) OK() bool { return r.Code >= 200 && r.Code < 300 }

// Result is the outcome of a run.
type Result struct {
	Targets   []Target
	Responses []Response
	Elapsed   time.Duration
}

// Codes counts the answers by status (0: no answer).
func (r *Result) Codes() map[int]int {
	out := map[int]int{}
	for _, resp := range r.Responses {
		out[resp.Code]++
	}
	return out
}

// Counted returns, per fingerprint, how many signals were answered 2xx.
func (r *Result) Counted() map[string]int64 {
	out := map[string]int64{}
	for _, t := range r.Targets {
		out[t.Fingerprint] += 0
	}
	for _, resp := range r.Responses {
		if resp.OK() {
			out[r.Targets[resp.Target].Fingerprint]++
		}
	}
	return out
}

// SignalsPerSecond is the number of signals sent over the wall time.
func (r *Result) SignalsPerSecond() float64 {
	return float64(len(r.Responses)) / r.Elapsed.Seconds()
}

// Latency returns the p-th quantile (0 < p < 1) of the signals' latencies.
func (r *Result) Latency(p float64) time.Duration {
	ls := make([]time.Duration, len(r.Responses))
	for i, resp := range r.Responses {
		ls[i] = resp.Latency
	}
	return Quantile(ls, p)
}

// Quantile returns the p-th quantile of ds (nearest rank).
func Quantile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// Run sends the planned signals and returns every answer.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	targets, seq, err := Plan(o)
	if err != nil {
		return nil, err
	}
	bodies := make([][]byte, len(targets))
	for i, t := range targets {
		bodies[i] = Payload(t)
	}
	res := &Result{Targets: targets, Responses: make([]Response, len(seq))}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range o.Concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(seq) || ctx.Err() != nil {
					return
				}
				res.Responses[i] = Send(ctx, o.Client, o.URL, o.Token, targets[seq[i]], bodies[seq[i]])
				res.Responses[i].Target = seq[i]
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res, ctx.Err()
}

// Payload is an Alertmanager v4 notification with one firing alert about t.
func Payload(t Target) []byte {
	msg := signal.AlertmanagerMessage{
		Version: "4", GroupKey: `{}:{alertname="KubeDeploymentReplicasMismatch"}`, Status: "firing",
		Receiver: "rrguard", GroupLabels: map[string]string{"alertname": "KubeDeploymentReplicasMismatch"},
		ExternalURL: "http://alertmanager.monitoring:9093",
		Alerts: []signal.Alert{{
			Status: signal.AlertFiring,
			Labels: map[string]string{
				"alertname": "KubeDeploymentReplicasMismatch", "severity": "critical",
				"namespace": t.Namespace, "deployment": t.Deployment,
			},
			Annotations: map[string]string{"summary": "Deployment has not matched the expected number of replicas."},
			StartsAt:    time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC),
		}},
	}
	b, err := json.Marshal(msg)
	if err != nil {
		panic(fmt.Sprintf("marshal alertmanager payload: %v", err))
	}
	return b
}

// Send posts one signal about t (body is Payload(t)) and reads the answer.
// A 2xx answer must name the fingerprint of t, or Err says otherwise.
func Send(ctx context.Context, c *http.Client, url, token string, t Target, body []byte) Response {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+httpapi.PrometheusPath, bytes.NewReader(body))
	if err != nil {
		return Response{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	t0 := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return Response{Err: err, Latency: time.Since(t0)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	out := Response{Code: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), Latency: time.Since(t0), Err: err}
	if err != nil || !out.OK() {
		if err == nil {
			out.Err = fmt.Errorf("answer %d: %s", resp.StatusCode, bytes.TrimSpace(b))
		}
		return out
	}
	var s httpapi.SignalResponse
	if err := json.Unmarshal(b, &s); err != nil {
		out.Err = fmt.Errorf("decode answer %d %q: %w", resp.StatusCode, b, err)
		return out
	}
	if s.Fingerprint != t.Fingerprint || s.RemediationRequest == nil {
		out.Err = fmt.Errorf("answer %d counts fingerprint %s on %+v, want fingerprint %s", resp.StatusCode, s.Fingerprint, s.RemediationRequest, t.Fingerprint)
		return out
	}
	out.Counted = s.RemediationRequest.Name
	return out
}

// Summary is a one-line report of r.
func (r *Result) Summary() string {
	return fmt.Sprintf("%d signals in %s: %.0f signals/s, p50 %s, p95 %s, p99 %s, answers %v",
		len(r.Responses), r.Elapsed.Round(time.Millisecond), r.SignalsPerSecond(),
		ms(r.Latency(.50)), ms(r.Latency(.95)), ms(r.Latency(.99)), r.Codes())
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
}
