package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/semaphore"

	"github.com/rrguard/rrguard/gateway/pipeline"
	"github.com/rrguard/rrguard/gateway/signal"
)

// The signal endpoints.
const (
	PrometheusPath      = "/api/v1/signals/prometheus"
	KubernetesEventPath = "/api/v1/signals/kubernetes-event"
)

// Counter takes a signal to the RemediationRequest it is counted on:
// *pipeline.Pipeline, which also resolves and fingerprints it; the
// benchmarks' baselines are the others.
type Counter interface {
	Submit(ctx context.Context, sig *signal.Signal) (pipeline.Result, error)
}

var _ Counter = (*pipeline.Pipeline)(nil)

// Options configure the handler.
type Options struct {
	// Counter counts the signals. Required.
	Counter Counter
	// Auth decides who may post. Required: pass AllowAll for none.
	Auth Authenticator
	// Parser decodes the payloads: the cluster a signal comes from when it
	// does not say, and how large its RemediationRequest may be.
	Parser signal.Parser
	// MaxBodyBytes caps a request body. Defaults to 1 MiB.
	MaxBodyBytes int64
	// RequestTimeout is each request's deadline, from its arrival, for
	// authenticating, reading and counting its signals. Defaults to
	// pipeline.DefaultTimeout.
	RequestTimeout time.Duration
	// MaxConcurrentAlerts bounds how many alerts of one payload are counted
	// at once. Defaults to 16.
	MaxConcurrentAlerts int
	// MaxRequestsInFlight bounds the requests served at once, before
	// anything else is done for them (authentication included). Defaults
	// to DefaultMaxRequestsInFlight.
	MaxRequestsInFlight int
	// MaxQueueWait is how long a request beyond MaxRequestsInFlight waits
	// for a slot, in arrival order, before it is answered 429 with a
	// Retry-After. The wait counts towards RequestTimeout. Defaults to a
	// third of RequestTimeout.
	MaxQueueWait time.Duration
	// Log is the operational log. Audit receives one line per signal
	// decision.
	Log   logr.Logger
	Audit logr.Logger
	// Metrics, when set, receive the request and signal counts.
	Metrics *Metrics
}

// DefaultMaxBodyBytes is the default of Options.MaxBodyBytes.
const DefaultMaxBodyBytes = 1 << 20

// DefaultMaxRequestsInFlight is the default of Options.MaxRequestsInFlight:
// kube-apiserver's own default for read-only requests. A request waiting
// for authentication holds a goroutine and no body (the body is read only
// once the caller is authenticated); a burst of one incident's alerts
// shares one write per round, so slots free quickly.
const DefaultMaxRequestsInFlight = 400

func (o *Options) setDefaults() {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = pipeline.DefaultTimeout
	}
	if o.MaxConcurrentAlerts <= 0 {
		o.MaxConcurrentAlerts = 16
	}
	if o.MaxRequestsInFlight <= 0 {
		o.MaxRequestsInFlight = DefaultMaxRequestsInFlight
	}
	if o.MaxQueueWait <= 0 {
		o.MaxQueueWait = o.RequestTimeout / 3
	}
}

type handler struct {
	opts     Options
	inFlight *semaphore.Weighted
}

// NewHandler returns the gateway's signal API.
func NewHandler(opts Options) (http.Handler, error) {
	if opts.Counter == nil {
		return nil, errors.New("httpapi: a Counter is required")
	}
	if opts.Auth == nil {
		return nil, errors.New("httpapi: an Authenticator is required (AllowAll for none)")
	}
	if err := opts.Parser.Validate(); err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}
	opts.setDefaults()
	h := &handler{opts: opts, inFlight: semaphore.NewWeighted(int64(opts.MaxRequestsInFlight))}
	mux := http.NewServeMux()
	mux.Handle(PrometheusPath, h.endpoint(PrometheusPath, signal.TypePrometheus, h.alertmanager))
	mux.Handle(KubernetesEventPath, h.endpoint(KubernetesEventPath, signal.TypeKubernetesEvent, h.kubernetesEvent))
	mux.Handle("/", h.endpoint("other", "", func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeProblem(w, r, problemNotFound.problem(fmt.Sprintf("%s is not a signal endpoint; post to %s or %s", r.URL.Path, PrometheusPath, KubernetesEventPath)))
	}))
	return mux, nil
}

// alertmanager answers an Alertmanager webhook v4 payload.
func (h *handler) alertmanager(w http.ResponseWriter, r *http.Request, body []byte) {
	am, err := h.opts.Parser.Alertmanager(body)
	if err != nil {
		h.refuseUnparsed(w, r, signal.TypePrometheus, err)
		return
	}
	if am.Message.TruncatedAlerts > 0 {
		logr.FromContextOrDiscard(r.Context()).Info("Alertmanager truncated the payload; the left-out alerts were never received",
			"truncatedAlerts", am.Message.TruncatedAlerts, "receiver", am.Message.Receiver, "groupKey", am.Message.GroupKey)
	}
	results := h.submitAll(r.Context(), am.Items)
	if len(results) == 1 {
		h.writeSingle(w, r, results[0])
		return
	}
	writeMultiStatus(w, r, results, am.Message.TruncatedAlerts)
}

// submitAll takes every alert of a payload to its outcome, at most
// MaxConcurrentAlerts at once.
func (h *handler) submitAll(ctx context.Context, items []signal.Item) []AlertResult {
	results := make([]AlertResult, len(items))
	sem := make(chan struct{}, h.opts.MaxConcurrentAlerts)
	var wg sync.WaitGroup
	for i, item := range items {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			results[i] = h.submitItem(ctx, signal.TypePrometheus, i, item)
		})
	}
	wg.Wait()
	return results
}

func (h *handler) kubernetesEvent(w http.ResponseWriter, r *http.Request, body []byte) {
	item, err := h.opts.Parser.KubernetesEvent(body)
	if err != nil {
		h.refuseUnparsed(w, r, signal.TypeKubernetesEvent, err)
		return
	}
	h.writeSingle(w, r, h.submitItem(r.Context(), signal.TypeKubernetesEvent, 0, item))
}

// submitItem takes one item of a payload to its outcome, and records it.
func (h *handler) submitItem(ctx context.Context, source string, index int, item signal.Item) (res AlertResult) {
	start := time.Now()
	res = AlertResult{Index: index, AlertName: item.AlertName}
	defer func() {
		if m := h.opts.Metrics; m != nil {
			m.Signals.WithLabelValues(source, string(res.Status)).Inc()
		}
		h.audit(ctx, source, res, time.Since(start))
	}()

	if item.Signal == nil && item.Err == nil {
		res.Status, res.Code, res.Reason = pipeline.OutcomeIgnored, http.StatusOK, item.Ignored
		return res
	}
	err := item.Err
	var counted pipeline.Result
	if err == nil {
		counted, err = h.opts.Counter.Submit(ctx, item.Signal)
		res.Fingerprint = counted.Fingerprint
	}
	if err != nil {
		res.fail(err)
		return res
	}
	if counted.Outcome == pipeline.OutcomeIgnored {
		res.Status, res.Code, res.Reason = pipeline.OutcomeIgnored, http.StatusOK, counted.Reason
		return res
	}
	res.Status, res.Code = counted.Outcome, http.StatusAccepted
	if counted.Outcome == pipeline.OutcomeCreated {
		res.Code = http.StatusCreated
	}
	res.RemediationRequest = &RemediationRequestRef{
		Namespace: counted.RemediationRequest.Namespace,
		Name:      counted.RemediationRequest.Name,
	}
	res.OccurrenceCount = counted.OccurrenceCount
	return res
}

// audit writes the one audit line of a signal decision.
func (h *handler) audit(ctx context.Context, source string, res AlertResult, latency time.Duration) {
	kv := []any{
		"requestID", requestIDFrom(ctx),
		"source", source,
		"index", res.Index,
		"alertname", res.AlertName,
		"outcome", res.Status,
		"code", res.Code,
		"latencySeconds", latency.Seconds(),
	}
	if res.Fingerprint != "" {
		kv = append(kv, "fingerprint", res.Fingerprint)
	}
	if res.RemediationRequest != nil {
		kv = append(kv, "remediationRequest", res.RemediationRequest.Namespace+"/"+res.RemediationRequest.Name,
			"occurrenceCount", res.OccurrenceCount)
	}
	if res.Reason != "" {
		kv = append(kv, "reason", res.Reason)
	}
	if res.Error != "" {
		kv = append(kv, "error", res.Error)
	}
	h.opts.Audit.Info("signal decision", kv...)
}
