package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
)

// Path is where the webhook is served, as kubebuilder would name it.
const Path = "/validate-kubernaut-ai-v1alpha1-remediationrequest"

// Handler decides RemediationRequest admissions with a dedup.Admitter: a
// dedup.Coalescer over a dedup.Guard (NewHandler).
type Handler struct {
	admitter dedup.Admitter
	decoder  admission.Decoder
	audit    logr.Logger
	metrics  *Metrics
	enforcer *Enforcer
	// counted are the creators whose duplicate creates are denied
	// AlreadyExists and counted on the holder (Options.CountedCreators),
	// by counts.
	counted Creators
	counts  *denialCounts
}

var _ admission.Handler = (*Handler)(nil)

// Handle admits or denies one request and audits the decision. It never
// panics: a panic is recovered, answered as an error and audited.
func (h *Handler) Handle(ctx context.Context, req admission.Request) (resp admission.Response) {
	start := time.Now()
	rec := auditRecord{req: req.AdmissionRequest}
	defer func() {
		if p := recover(); p != nil {
			resp = admission.Errored(http.StatusInternalServerError, fmt.Errorf("internal error deciding admission: %v", p))
			rec.reason, rec.claimAction = ReasonError, dedup.ClaimNone
		}
		resp = h.enforce(ctx, req, resp, &rec)
		h.countDenied(ctx, req, resp, &rec)
		rec.allowed = resp.Allowed
		if resp.Result != nil {
			rec.message = resp.Result.Message
		}
		rec.latency = time.Since(start)
		rec.write(h.audit)
		h.metrics.observe(rec)
	}()

	cand, err := h.candidate(req, &rec)
	var inv *dedup.Invalid
	switch {
	case errors.As(err, &inv):
		inv.Name = req.Name
		return h.answer(req.Namespace, "", dedup.InvalidVerdict(inv), false, &rec)
	case err != nil:
		rec.reason = ReasonError
		return admission.Errored(http.StatusInternalServerError, err)
	case cand == nil:
		rec.reason = ReasonNotApplicable
		return admission.Allowed(string(ReasonNotApplicable))
	}

	dryRun := req.DryRun != nil && *req.DryRun
	v, err := h.admitter.Admit(ctx, *cand, dryRun)
	if v.Conflicts > 0 {
		h.metrics.claimConflicts.Add(float64(v.Conflicts))
	}
	rec.claimAction = v.ClaimAction
	rec.coalesced = v.Coalesced
	if err != nil {
		rec.reason = ReasonError
		return admission.Errored(http.StatusInternalServerError,
			fmt.Errorf("decide fingerprint %s for %s/%s: %w", cand.Fingerprint, cand.Namespace, cand.Name, err))
	}
	if v.Allowed {
		rec.holder = cand.Name
	}
	rec.exists = !cand.Reactivation && h.counted.Match(req.UserInfo)
	return h.answer(cand.Namespace, cand.Fingerprint, v, rec.exists, &rec)
}

// countDenied counts the signal of a create it denied as a duplicate, for a
// counted creator, on the holder the denial names, and records the outcome
// in rec: a side effect like the claim write, so never in a dry run, and
// never for a create admitted (warn mode: the creator counts on the request
// it made). It runs before the answer, so that a creator's next signal
// reads the count, and the audit line says what became of it.
func (h *Handler) countDenied(ctx context.Context, req admission.Request, resp admission.Response, rec *auditRecord) {
	rec.count = countNone
	dryRun := req.DryRun != nil && *req.DryRun
	if h.counts == nil || !rec.exists || dryRun || resp.Allowed || rec.reason != dedup.ReasonDuplicate || rec.holder == "" {
		return
	}
	res, again, err := h.counts.count(ctx, req.UID, types.NamespacedName{Namespace: req.Namespace, Name: rec.holder})
	switch {
	case err != nil:
		rec.count, rec.countError = countFailed, err.Error()
	case again:
		rec.count, rec.occurrenceCount = countAlready, res.OccurrenceCount
	default:
		rec.count, rec.occurrenceCount = countCounted, res.OccurrenceCount
	}
	h.metrics.deniedCounts.WithLabelValues(rec.count).Inc()
}

// answer is the response for verdict v, recorded in rec; exists as
// dedup.DenialStatus takes it.
func (h *Handler) answer(ns, fp string, v dedup.Verdict, exists bool, rec *auditRecord) admission.Response {
	rec.reason = v.Reason
	switch {
	case v.Holder != nil:
		rec.holder = v.Holder.Name
	case v.HolderName != "":
		rec.holder = v.HolderName
	}
	if v.Allowed {
		return admission.Allowed(string(v.Reason))
	}
	return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{
		Allowed: false,
		Result:  dedup.DenialStatus(ns, fp, v, exists),
	}}
}

// candidate turns req into the Candidate the Guard decides on; nil when the
// request cannot change who holds a fingerprint.
func (h *Handler) candidate(req admission.Request, rec *auditRecord) (*dedup.Candidate, error) {
	if req.Resource.Group != v1alpha1.GroupVersion.Group || req.Resource.Resource != v1alpha1.Resource {
		return nil, dedup.BadRequest("",
			"unexpected resource %s; this webhook decides %s.%s only", req.Resource, v1alpha1.Resource, v1alpha1.GroupVersion.Group)
	}
	var reactivation bool
	switch {
	case req.Operation == admissionv1.Create && req.SubResource == "":
	case req.Operation == admissionv1.Update && req.SubResource == "status":
		reactivation = true
	default:
		return nil, nil
	}

	rr := &v1alpha1.RemediationRequest{}
	if err := h.decoder.DecodeRaw(req.Object, rr); err != nil {
		return nil, dedup.BadRequest("", "decode object: %v", err)
	}
	rec.name, rec.objectUID = rr.Name, string(rr.UID)
	rec.fingerprint = rr.Spec.SignalFingerprint
	var storedRV string
	if reactivation {
		old := &v1alpha1.RemediationRequest{}
		if err := h.decoder.DecodeRaw(req.OldObject, old); err != nil {
			return nil, dedup.BadRequest("", "decode oldObject: %v", err)
		}
		if dedup.IsActive(old) || !dedup.IsActive(rr) {
			return nil, nil
		}
		// oldObject is the request as stored while this update is admitted;
		// its resourceVersion tells the Guard whether the update has landed.
		storedRV = old.ResourceVersion
	}
	if !dedup.ValidFingerprint(rr.Spec.SignalFingerprint) {
		return nil, dedup.Unprocessable(v1alpha1.FingerprintField,
			"%s %q must be 64 lower-case hex characters", v1alpha1.FingerprintField, rr.Spec.SignalFingerprint)
	}
	ns := rr.Namespace
	if ns == "" {
		ns = req.Namespace
	}
	if ns == "" || rr.Name == "" || rr.UID == "" {
		return nil, dedup.BadRequest("metadata",
			"object has no namespace, name or uid (namespace=%q name=%q uid=%q); the API server sets them before validating admission", ns, rr.Name, rr.UID)
	}
	return &dedup.Candidate{
		Namespace: ns, Name: rr.Name, UID: rr.UID,
		Fingerprint: rr.Spec.SignalFingerprint, Reactivation: reactivation,
		StoredResourceVersion: storedRV,
	}, nil
}
