package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/uuid"
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

type bodyHandler func(w http.ResponseWriter, r *http.Request, body []byte)

// endpoint wraps next with what every request gets, in order: a request ID
// and logger, the latency metric, a slot among the requests in flight, the
// method check, authentication, the content type check and the size-capped
// body read.
func (h *handler) endpoint(name, source string, next bodyHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 128 || strings.ContainsFunc(id, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
			id = uuid.NewString()
		}
		w.Header().Set("X-Request-Id", id)
		log := h.opts.Log.WithValues("requestID", id, "endpoint", name)
		// The deadline runs from here, so that authentication and reading
		// the body count towards it: the answer must reach the sender
		// within the server's write timeout, or a counted signal would
		// look failed and be sent again.
		ctx, cancel := context.WithTimeout(withRequestID(logr.NewContext(r.Context(), log), id), h.opts.RequestTimeout)
		defer cancel()
		r = r.WithContext(ctx)
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			if m := h.opts.Metrics; m != nil {
				m.Latency.WithLabelValues(name, strconv.Itoa(rec.code)).Observe(time.Since(start).Seconds())
			}
		}()
		w = rec
		if !h.admit(ctx) {
			writeProblem(w, r, problemThrottled.problem(fmt.Sprintf("%d requests are in flight (--max-requests-inflight) and none finished within %s", h.opts.MaxRequestsInFlight, h.opts.MaxQueueWait)))
			h.countRejected(source)
			return
		}
		defer h.inFlight.Release(1)

		if source == "" {
			next(w, r, nil)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeProblem(w, r, problemMethod.problem(fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path)))
			return
		}
		if err := h.opts.Auth.Authenticate(r); err != nil {
			h.refuse(w, r, err)
			h.countRejected(source)
			return
		}
		body, ok := h.readBody(w, r)
		if !ok {
			h.countRejected(source)
			return
		}
		next(w, r, body)
	})
}

// readBody reads a JSON body within the size limit, or answers why not.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if !isJSON(r.Header.Get("Content-Type")) {
		writeProblem(w, r, problemMediaType.problem(fmt.Sprintf("content type %q is not JSON; send application/json", r.Header.Get("Content-Type"))))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeProblem(w, r, problemTooLarge.problem(fmt.Sprintf("the body exceeds %d bytes (--max-body-bytes)", h.opts.MaxBodyBytes)))
		} else {
			writeProblem(w, r, problemInvalid.problem("the body could not be read: "+err.Error()))
		}
		return nil, false
	}
	return body, true
}

// refuse answers a request whose caller was not let through.
func (h *handler) refuse(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrUnauthenticated):
		w.Header().Set("WWW-Authenticate", `Bearer realm="rrguard-gateway"`)
		writeProblem(w, r, problemUnauthenticated.problem(err.Error()))
	case errors.Is(err, ErrForbidden):
		writeProblem(w, r, problemForbidden.problem(err.Error()))
	case errors.Is(err, ErrThrottled):
		writeProblem(w, r, problemThrottled.problem("the caller could not be authenticated now: "+err.Error()))
	default:
		logr.FromContextOrDiscard(r.Context()).Error(err, "Authentication could not be decided")
		writeProblem(w, r, problemUnavailable.problem("the caller could not be authenticated: "+err.Error()))
	}
}

// admit takes a slot among the requests in flight, waiting up to
// MaxQueueWait in arrival order (semaphore.Weighted is FIFO); false means
// none came free and the request is answered 429.
func (h *handler) admit(ctx context.Context) bool {
	if h.inFlight.TryAcquire(1) {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, h.opts.MaxQueueWait)
	defer cancel()
	if h.inFlight.Acquire(ctx, 1) != nil {
		if m := h.opts.Metrics; m != nil {
			m.Throttled.WithLabelValues(limitRequests).Inc()
		}
		return false
	}
	return true
}

// countRejected counts a request refused before any signal in it could be
// told apart, as one rejected signal of its source (none for a request to
// no endpoint).
func (h *handler) countRejected(source string) {
	if m := h.opts.Metrics; m != nil && source != "" {
		m.Signals.WithLabelValues(source, string(pipeline.OutcomeRejected)).Inc()
	}
}

// refuseUnparsed answers a payload of source that the parser refused, and
// counts it rejected.
func (h *handler) refuseUnparsed(w http.ResponseWriter, r *http.Request, source string, err error) {
	h.countRejected(source)
	writeProblem(w, r, problemInvalid.problem(err.Error()))
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// RemediationRequestRef names a RemediationRequest in a response.
type RemediationRequestRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// SignalResponse answers a request with one signal: 201 created, 202
// duplicate, 200 ignored.
type SignalResponse struct {
	Status             pipeline.Outcome       `json:"status"`
	Fingerprint        string                 `json:"fingerprint,omitempty"`
	RemediationRequest *RemediationRequestRef `json:"remediationRequest,omitempty"`
	OccurrenceCount    int64                  `json:"occurrenceCount,omitempty"`
	// Reason says why an ignored signal was not counted: it asks for
	// nothing, or its target is out of scope.
	Reason string `json:"reason,omitempty"`
}

// AlertResult is the outcome of one alert in a 207 response.
type AlertResult struct {
	Index     int    `json:"index"`
	AlertName string `json:"alertname,omitempty"`
	SignalResponse
	// Code is the HTTP status this alert alone would have been answered
	// with.
	Code int `json:"code"`
	// Error says why a rejected or failed alert was not counted.
	Error string `json:"error,omitempty"`
	// Retryable is set where sending the alert again may succeed.
	Retryable bool `json:"retryable,omitempty"`

	// problem is what a rejected or failed alert alone is answered with.
	problem problemKind
}

// Summary counts a payload's alerts by outcome.
type Summary struct {
	Total     int `json:"total"`
	Created   int `json:"created"`
	Duplicate int `json:"duplicate"`
	Ignored   int `json:"ignored"`
	Rejected  int `json:"rejected"`
	Failed    int `json:"failed"`
}

// MultiStatusResponse answers a payload of several alerts (207).
type MultiStatusResponse struct {
	Results []AlertResult `json:"results"`
	Summary Summary       `json:"summary"`
	// TruncatedAlerts is Alertmanager's count of alerts it left out of the
	// payload; they were never received.
	TruncatedAlerts uint64 `json:"truncatedAlerts,omitempty"`
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

// summarize counts results by outcome. It also returns the errors of the
// alerts that were not counted, and the failure that picks the problem a
// retry is asked with (a 503 over a 504).
func summarize(results []AlertResult) (s Summary, itemErrs []ItemError, worst AlertResult) {
	s.Total = len(results)
	for _, res := range results {
		switch res.Status {
		case pipeline.OutcomeCreated:
			s.Created++
		case pipeline.OutcomeDuplicate:
			s.Duplicate++
		case pipeline.OutcomeIgnored:
			s.Ignored++
		case pipeline.OutcomeRejected:
			s.Rejected++
			itemErrs = append(itemErrs, ItemError{Index: res.Index, AlertName: res.AlertName, Detail: res.Error})
		case pipeline.OutcomeFailed:
			s.Failed++
			itemErrs = append(itemErrs, ItemError{Index: res.Index, AlertName: res.AlertName, Detail: res.Error})
			if worst.Code == 0 || res.Code == http.StatusServiceUnavailable {
				worst = res
			}
		}
	}
	return s, itemErrs, worst
}

// writeMultiStatus answers a payload of several alerts: a problem when none
// was counted, 207 with each alert's result otherwise.
func writeMultiStatus(w http.ResponseWriter, r *http.Request, results []AlertResult, truncatedAlerts uint64) {
	s, itemErrs, worst := summarize(results)
	counted := s.Created + s.Duplicate
	switch {
	case counted == 0 && s.Failed > 0:
		// Nothing was counted, so a retry of the whole payload counts
		// nothing twice: ask for it.
		p := problemUnavailable
		if worst.Code == http.StatusGatewayTimeout {
			p = problemDeadline
		}
		prob := p.problem(fmt.Sprintf("%d of %d alerts could not be counted; nothing was counted, retry the payload", s.Failed, s.Total))
		prob.Errors = itemErrs
		writeProblem(w, r, prob)
	case counted == 0 && s.Rejected > 0:
		prob := problemInvalid.problem(fmt.Sprintf("%d of %d alerts are invalid; nothing was counted", s.Rejected, s.Total))
		prob.Errors = itemErrs
		writeProblem(w, r, prob)
	default:
		// Some alerts were counted: a retry would count them again. The
		// failed ones say so in their results (retryable), and
		// Alertmanager sends a still-firing alert again on its next
		// group interval.
		writeJSON(w, "application/json", http.StatusMultiStatus, MultiStatusResponse{Results: results, Summary: s, TruncatedAlerts: truncatedAlerts})
	}
}

func (h *handler) kubernetesEvent(w http.ResponseWriter, r *http.Request, body []byte) {
	item, err := h.opts.Parser.KubernetesEvent(body)
	if err != nil {
		h.refuseUnparsed(w, r, signal.TypeKubernetesEvent, err)
		return
	}
	h.writeSingle(w, r, h.submitItem(r.Context(), signal.TypeKubernetesEvent, 0, item))
}

// writeSingle answers a request that carried one signal.
func (h *handler) writeSingle(w http.ResponseWriter, r *http.Request, res AlertResult) {
	switch res.Status {
	case pipeline.OutcomeCreated, pipeline.OutcomeDuplicate, pipeline.OutcomeIgnored:
		writeJSON(w, "application/json", res.Code, res.SignalResponse)
		return
	}
	p := res.problem.problem(res.Error)
	p.Errors = []ItemError{{Index: res.Index, AlertName: res.AlertName, Detail: res.Error}}
	writeProblem(w, r, p)
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

// fail records why the signal was not counted: rejected where sending it
// again cannot help (a 4xx: the parser's refusal, or the Counter's), failed
// and retryable otherwise.
func (r *AlertResult) fail(err error) {
	r.Error, r.problem = err.Error(), failureProblem(err)
	r.Code = r.problem.status
	r.Status, r.Retryable = pipeline.OutcomeFailed, true
	if r.Code < http.StatusInternalServerError {
		r.Status, r.Retryable = pipeline.OutcomeRejected, false
	}
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

type requestIDKey struct{}

func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// statusRecorder remembers the status code written, for the latency metric.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
