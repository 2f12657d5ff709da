// Package baseline is the per-signal check-then-create design that
// docs/design.md (section 1) rejects, done properly but nothing more: for
// each signal an uncached List by the fingerprint's field selector, then
// either a create followed by its first count or a count (the gateway's
// patch of status.deduplication) retried on conflict. No coalescing, no claim, no memory of the last request seen. It
// exists only so that benchmarks and tests measure rrguard against it in the
// same run, and show the duplicates it makes; no binary uses it.
package baseline
