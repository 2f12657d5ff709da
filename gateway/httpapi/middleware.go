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
	"time"

	"github.com/go-logr/logr"
	"github.com/google/uuid"

	"github.com/rrguard/rrguard/gateway/pipeline"
)

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
