// Package pipeline counts signals on RemediationRequests: for each
// fingerprint it finds the request that holds it for the gateway — active,
// or any ended one still suppressing by kubernaut's rules
// (dedup.GatewayHolder) — and
// adds the signal to its status.deduplication, or creates one, so that a
// fingerprint has at most one active request and every signal answered as
// counted is counted exactly once (docs/design.md, steps G1–G9).
//
// Signals for one fingerprint are coalesced: one goroutine per fingerprint
// talks to the API server at a time, and the signals that arrive meanwhile
// are counted together by its next write. The one write is a merge patch of
// status.deduplication alone, conditioned on the resourceVersion the request
// was read at (G5); the request last counted on is remembered with that
// version, so a storm costs one write per batch and no reads (G7), and
// forgotten on any failure; a conflict sends the pipeline back to a read
// (G6). A write whose answer is lost, or that client-go sent again
// (CountSends), is settled before the signal is answered (G8), and no API
// call starts after a signal's deadline (G9).
package pipeline
