// Package httpapi is the gateway's HTTP face: the two signal endpoints
// (Alertmanager webhook v4 and Kubernetes Events), their authentication by
// TokenReview and SubjectAccessReview, the problem+json (RFC 9457) errors,
// the per-signal audit log and the request metrics. It decodes with package
// signal and counts with package pipeline; it decides only what to answer.
//
// The answers follow Alertmanager's retry contract: 2xx means done, 5xx is
// retried by the sender, 4xx is permanent. So a 4xx is given only for a
// payload that can never be accepted as sent, and a 5xx only when nothing
// of the request was counted.
package httpapi
