// Package scan finds what a cluster already holds before, and while,
// rrguard guards it: duplicate active RemediationRequests (created while no
// webhook guarded, or admitted with a warning in warn mode), active requests
// whose fingerprint has no claim, and claims whose holder is gone or
// inactive.
//
// A Scanner lists every RemediationRequest in pages (the API's limit and
// continue, one consistent snapshot), so that its memory is bounded by one
// page and a small record per active request and per claim, never by the
// number of stored requests. It groups the active requests by namespace and
// fingerprint, has dedup.Guard.Adopt give an unclaimed fingerprint's claim
// to its oldest active request (the compare-and-swap the webhook itself
// uses), and returns a Report. It never creates, changes or deletes a
// RemediationRequest.
//
// A Runner is the scan as the webhook's leader runs it every interval
// (webhook.Setup schedules it): it publishes each Report as the rrguard_duplicate_active_fingerprints gauge,
// one Event on each request of a duplicate set naming the others, and one
// audit line per set. cmd/rrguard-scan runs a Scanner on demand and prints
// the Report as a table or JSON.
package scan
