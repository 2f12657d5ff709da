package webhook

import (
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/internal/auditlog"
)

// The reasons the webhook gives beyond dedup's: a failure of its own, and a
// request it has nothing to decide on.
const (
	ReasonError dedup.Reason = "Error"
	// ReasonNotApplicable: a request that cannot change who holds a
	// fingerprint, such as a status update that does not move the request
	// out of a terminal phase. matchConditions keep the API server from
	// sending these; the handler still answers one correctly (allowed).
	ReasonNotApplicable dedup.Reason = "NotApplicable"
)

// AuditLoggerName is the name of the audit logger; its lines carry
// "logger":"audit" in zap's JSON.
const AuditLoggerName = auditlog.Name

// auditRecord is one admission decision. Its fields are the audit schema,
// documented in the README.
type auditRecord struct {
	req         admissionv1.AdmissionRequest
	name        string
	objectUID   string
	fingerprint string
	allowed     bool
	// warned is set when a denial was admitted with a warning
	// (EnforcementWarn); reason is then the reason it would have had.
	warned      bool
	reason      dedup.Reason
	holder      string
	claimAction dedup.ClaimAction
	coalesced   bool
	latency     time.Duration
	message     string
	// exists: a create by a counted creator (Options.CountedCreators).
	exists bool
	// count is what became of the signal of a denied create of a counted
	// creator (countNone, countCounted, ...), occurrenceCount the holder's
	// count including it, countError why it was not counted.
	count           string
	occurrenceCount int64
	countError      string
}

// write logs r as one line on the audit logger.
func (r auditRecord) write(log logr.Logger) {
	dryRun := r.req.DryRun != nil && *r.req.DryRun
	groups := r.req.UserInfo.Groups
	if groups == nil {
		groups = []string{}
	}
	if r.name == "" {
		r.name = r.req.Name
	}
	claim := r.claimAction
	if claim == "" {
		claim = dedup.ClaimNone
	}
	log.Info("admission decision",
		"requestUID", string(r.req.UID),
		"operation", string(r.req.Operation),
		"subresource", r.req.SubResource,
		"dryRun", dryRun,
		"user", r.req.UserInfo.Username,
		"groups", groups,
		"namespace", r.req.Namespace,
		"name", r.name,
		"objectUID", r.objectUID,
		"fingerprint", r.fingerprint,
		"decision", r.decision(),
		"reason", string(r.reason),
		"holder", r.holder,
		"claimAction", string(claim),
		"coalesced", r.coalesced,
		"latencySeconds", r.latency.Seconds(),
		"message", r.message,
		"count", r.count,
		"occurrenceCount", r.occurrenceCount,
		"countError", r.countError,
	)
}

// decision is the audit line's and the metric's decision: allowed, denied,
// or warned (a denial admitted with a warning).
func (r auditRecord) decision() string {
	switch {
	case r.warned:
		return "warned"
	case r.allowed:
		return "allowed"
	}
	return "denied"
}
