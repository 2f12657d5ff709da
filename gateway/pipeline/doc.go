// Package pipeline counts signals on RemediationRequests: for each
// fingerprint it finds the active RemediationRequest through the shared
// dedup core and adds the signal to its status.deduplication, or creates one,
// so that a fingerprint has at most one active request and every signal
// answered as counted is counted exactly once (docs/design.md, section 11).
//
// Signals for one fingerprint are coalesced: one goroutine per fingerprint
// talks to the API server at a time, and the signals that arrive meanwhile
// are counted together by its next write. The RemediationRequest last seen
// active is remembered with its resourceVersion, so a storm costs about one
// status update per batch and no reads: an update conditioned on that
// resourceVersion is itself the proof that the request is still active, and
// a conflict sends the pipeline back to a lookup.
package pipeline
