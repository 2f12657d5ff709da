package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/rrguard/rrguard/gateway/pipeline"
	"github.com/rrguard/rrguard/gateway/signal"
)

// ProblemContentType is the media type of an RFC 9457 problem document.
const ProblemContentType = "application/problem+json"

// problemTypeBase prefixes the type URI of rrguard's problems. The URI
// identifies the problem kind; it is not meant to be dereferenced.
const problemTypeBase = "https://rrguard.kubernaut.ai/problems/"

// Problem is an RFC 9457 problem document, with rrguard's extensions.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// RequestID identifies the request in the gateway's logs.
	RequestID string `json:"requestID,omitempty"`
	// Errors lists the problems of single alerts in a payload.
	Errors []ItemError `json:"errors,omitempty"`
}

// ItemError is the problem of one alert of a payload.
type ItemError struct {
	Index     int    `json:"index"`
	AlertName string `json:"alertname,omitempty"`
	Detail    string `json:"detail"`
}

// The problem kinds the gateway answers with.
var (
	problemInvalid          = problemKind{"invalid-payload", "The payload is not a valid signal", http.StatusBadRequest}
	problemUnauthenticated  = problemKind{"unauthenticated", "A valid bearer token is required", http.StatusUnauthorized}
	problemForbidden        = problemKind{"forbidden", "The caller may not post signals to this endpoint", http.StatusForbidden}
	problemMethod           = problemKind{"method-not-allowed", "Only POST is allowed", http.StatusMethodNotAllowed}
	problemTooLarge         = problemKind{"payload-too-large", "The payload exceeds the size limit", http.StatusRequestEntityTooLarge}
	problemSignalTooLarge   = problemKind{"signal-too-large", "The signal's RemediationRequest would exceed the size limit", http.StatusRequestEntityTooLarge}
	problemMediaType        = problemKind{"unsupported-media-type", "The payload must be JSON", http.StatusUnsupportedMediaType}
	problemUnavailable      = problemKind{"unavailable", "The Kubernetes API server or the admission webhook is unavailable", http.StatusServiceUnavailable}
	problemDeadline         = problemKind{"deadline-exceeded", "The signal could not be counted before the request deadline", http.StatusGatewayTimeout}
	problemNotFound         = problemKind{"not-found", "No such endpoint", http.StatusNotFound}
	problemThrottled        = problemKind{"too-many-requests", "The gateway is saturated; retry after Retry-After seconds", http.StatusTooManyRequests}
	problemRejectedByServer = problemKind{"rejected-by-api-server", "The API server rejected the RemediationRequest built from the signal", http.StatusBadRequest}
)

// failureProblem is the problem a signal the Counter did not count is
// answered with: 4xx where sending it again cannot help, 5xx where it may.
func failureProblem(err error) problemKind {
	switch {
	case errors.Is(err, signal.ErrInvalid):
		return invalidProblem(err)
	case errors.Is(err, pipeline.ErrRejected):
		return problemRejectedByServer
	case errors.Is(err, pipeline.ErrDeadline):
		return problemDeadline
	default:
		return problemUnavailable
	}
}

// invalidProblem is the problem of a signal the parser refused: too large
// for a RemediationRequest, or otherwise invalid.
func invalidProblem(err error) problemKind {
	if errors.Is(err, signal.ErrTooLarge) {
		return problemSignalTooLarge
	}
	return problemInvalid
}

type problemKind struct {
	slug   string
	title  string
	status int
}

func (k problemKind) problem(detail string) *Problem {
	return &Problem{Type: problemTypeBase + k.slug, Title: k.title, Status: k.status, Detail: detail}
}

// retryAfter is the Retry-After of a 503: long enough for an API server
// restart or a webhook rollout to make progress, short enough not to delay
// remediation.
const retryAfter = 5 * time.Second

// throttledRetryAfter is the Retry-After of a 429: a saturated gateway
// frees its slots within a request's time, and a sender should come back
// soon.
const throttledRetryAfter = time.Second

func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	p.Instance = r.URL.Path
	p.RequestID = requestIDFrom(r.Context())
	switch p.Status {
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", strconv.Itoa(int(throttledRetryAfter/time.Second)))
	}
	writeJSON(w, ProblemContentType, p.Status, p)
}

func writeJSON(w http.ResponseWriter, contentType string, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Every value written here is a plain struct; fall back to a
		// bare status rather than a half-written body.
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
