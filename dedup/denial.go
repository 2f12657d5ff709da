package dedup

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// The denial contract between the webhook and every client. Every denial
// the webhook gives is built here. The API server passes a webhook's status
// through to the client (prefixing its message), so a creator learns from
// the error alone who holds the fingerprint:
//
//   - Duplicate: HTTP 409, reason Conflict, details.name = the holder,
//     one cause of type "Duplicate" on spec.signalFingerprint. To a
//     creator that takes reason AlreadyExists as "the incident's request
//     exists" (kubernaut's gateway and API frontend, see DenialStatus),
//     the Duplicate denial of a create says reason AlreadyExists instead,
//     all else the same.
//   - ClaimInFlight: HTTP 429, reason TooManyRequests, details.name = the
//     claim's holder, retryAfterSeconds = 1, one cause "ClaimInFlight".
//     429 with Retry-After is what client-go itself backs off and retries on.
//   - Invalid: HTTP 400 (reason BadRequest) for a request that does not
//     parse, 422 (reason Invalid) for an object the protocol cannot decide
//     on; details.name = the object's name, one cause "Invalid" on the
//     field at fault.

// claimInFlightRetry is the Retry-After hint of a ClaimInFlight denial. The
// decision has already waited for the holder to be stored (step C9 of
// docs/design.md); a holder still not stored is held up somewhere (a slow
// co-installed webhook, a crashed admission), and a second is a fair pause.
const claimInFlightRetry = time.Second

// Invalid says why a request cannot be decided on.
type Invalid struct {
	// Code is http.StatusBadRequest or http.StatusUnprocessableEntity.
	Code int32
	// Field is the field at fault; empty for the request as a whole.
	Field string
	// Name is the object's name, where known.
	Name string
	Err  error
}

func (e *Invalid) Error() string { return e.Err.Error() }

// BadRequest is an Invalid for a request that does not parse.
func BadRequest(field, format string, args ...any) *Invalid {
	return &Invalid{Code: http.StatusBadRequest, Field: field, Err: fmt.Errorf(format, args...)}
}

// Unprocessable is an Invalid for an object the protocol cannot decide on.
func Unprocessable(field, format string, args ...any) *Invalid {
	return &Invalid{Code: http.StatusUnprocessableEntity, Field: field, Err: fmt.Errorf(format, args...)}
}

// InvalidVerdict is the denial of a request that cannot be decided on.
func InvalidVerdict(e *Invalid) Verdict {
	return Verdict{Reason: ReasonInvalid, Invalid: e, ClaimAction: ClaimNone}
}

// DenialStatus returns the API status a webhook denies v with; nil for an
// allowed verdict. exists is set for the Duplicate denial of a create whose
// creator stops at reason AlreadyExists and counts nothing itself (the
// webhook counts it on the holder): the denial then says AlreadyExists, so
// that the creator neither retries a create that would be denied again,
// nor reports a failure, nor holds it against the API server (kubernaut's
// gateway counts every create error but AlreadyExists towards opening its
// circuit breaker). Any other creator gets Conflict, which fails loudly
// where AlreadyExists would be taken for a create that worked.
func DenialStatus(ns, fp string, v Verdict, exists bool) *metav1.Status {
	if v.Allowed {
		return nil
	}
	field := v1alpha1.FingerprintField
	if v.Reason == ReasonInvalid && v.Invalid != nil {
		field = v.Invalid.Field
	}
	details := &metav1.StatusDetails{
		Group:  v1alpha1.GroupVersion.Group,
		Kind:   v1alpha1.Resource,
		Causes: []metav1.StatusCause{{Type: metav1.CauseType(v.Reason), Field: field}},
	}
	s := &metav1.Status{Status: metav1.StatusFailure, Details: details}
	switch {
	case v.Reason == ReasonDuplicate && v.Holder != nil:
		details.Name = v.Holder.Name
		s.Code, s.Reason = http.StatusConflict, metav1.StatusReasonConflict
		if exists {
			s.Reason = metav1.StatusReasonAlreadyExists
		}
		phase := v.Holder.Status.OverallPhase
		if phase == "" {
			phase = "<none>"
		}
		s.Message = fmt.Sprintf("RemediationRequest %s/%s with fingerprint %s is active (phase %s)",
			ns, v.Holder.Name, fp, phase)
	case v.Reason == ReasonClaimInFlight:
		details.Name = v.HolderName
		details.RetryAfterSeconds = int32(claimInFlightRetry / time.Second)
		s.Code, s.Reason = http.StatusTooManyRequests, metav1.StatusReasonTooManyRequests
		s.Message = fmt.Sprintf("fingerprint %s is being claimed by RemediationRequest %s/%s, whose admission is still in flight; retry shortly",
			fp, ns, v.HolderName)
	case v.Reason == ReasonInvalid && v.Invalid != nil:
		details.Name = v.Invalid.Name
		s.Code, s.Reason = v.Invalid.Code, metav1.StatusReasonBadRequest
		if v.Invalid.Code == http.StatusUnprocessableEntity {
			s.Reason = metav1.StatusReasonInvalid
		}
		s.Message = v.Invalid.Error()
	default:
		s.Code, s.Reason = http.StatusForbidden, metav1.StatusReasonForbidden
		s.Message = fmt.Sprintf("denied: %s", v.Reason)
	}
	details.Causes[0].Message = s.Message
	return s
}

// Denial is what a client learns from a webhook denial.
type Denial struct {
	Reason Reason
	// Holder names the RemediationRequest holding the fingerprint.
	Holder string
	// RetryAfter is the hint of a ClaimInFlight denial.
	RetryAfter time.Duration
}

// DenialFromError recognises a webhook denial in the error of a create or
// status update. ok is false for any other error.
func DenialFromError(err error) (d Denial, ok bool) {
	var se apierrors.APIStatus
	if !errors.As(err, &se) {
		return Denial{}, false
	}
	st := se.Status()
	if st.Details == nil || st.Details.Group != v1alpha1.GroupVersion.Group {
		return Denial{}, false
	}
	for _, c := range st.Details.Causes {
		switch r := Reason(c.Type); r {
		case ReasonDuplicate, ReasonClaimInFlight:
			return Denial{
				Reason:     r,
				Holder:     st.Details.Name,
				RetryAfter: time.Duration(st.Details.RetryAfterSeconds) * time.Second,
			}, true
		}
	}
	return Denial{}, false
}
