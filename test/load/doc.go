// Package load drives a running gateway over HTTP with a fixed number of
// signals at a fixed concurrency, then checks the outcome on the API
// server: one RemediationRequest per fingerprint, and a sum of
// occurrenceCount equal to the number of signals answered 2xx. It reports
// throughput and latency percentiles. cmd/rrguard-load wires flags to it;
// the benchmarks and fault tests drive in-process gateways with it.
package load
