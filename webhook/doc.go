// Package webhook is rrguard's validating admission webhook: the server-side
// backstop that keeps at most one active RemediationRequest per fingerprint
// whoever creates it, kubectl and scripts included.
//
// The Handler admits a RemediationRequest CREATE, and a status UPDATE that
// moves a request from a terminal back to an active phase, through the
// claim protocol of package dedup (dedup.Guard), reading only through the
// API server (never an informer cache). It writes exactly one audit line per
// decision to the logger named "audit" and counts decisions in Prometheus
// metrics. In warn mode (Enforcer: --enforcement and a namespace label) a
// request it would deny is admitted with a warning instead, after the same
// decision. The Janitor schedules the sweeps in which a dedup.ClaimKeeper
// removes claims whose holders are long gone; Setup also runs package
// scan on the leader.
// Configuration builds the ValidatingWebhookConfiguration that registers it.
package webhook
