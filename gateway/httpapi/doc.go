// Package httpapi is the gateway's HTTP face: the two signal endpoints
// (Alertmanager webhook v4 and Kubernetes Events), their authentication by
// an audience-bound TokenReview and a SubjectAccessReview, the bounds on
// requests and reviews in flight (429 beyond them), the problem+json (RFC
// 9457) errors, the per-signal audit log and the request metrics. It
// decodes with package signal and counts with package pipeline; it decides
// only what to answer.
//
// The answers follow Alertmanager's retry contract: 2xx means done, 5xx is
// retried by the sender, 4xx is permanent. So a 4xx is given only for a
// payload that can never be accepted as sent, and a 5xx only when nothing
// of the request was counted. The one exception is 429 (the gateway is
// saturated, nothing was counted, Retry-After says when to come back),
// which RFC 6585 asks for and which Alertmanager 0.28 does not retry.
package httpapi
