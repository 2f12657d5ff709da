package httpapi

import (
	"fmt"
	"net/http"

	"github.com/rrguard/rrguard/gateway/pipeline"
)

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
