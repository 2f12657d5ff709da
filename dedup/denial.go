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

// The denial contract between the webhook and every client. The API server
// passes a webhook's status through to the client (prefixing its message),
// so a creator learns from the error alone who holds the fingerprint:
//
//   - Duplicate: HTTP 409, reason Conflict, details.name = the holder,
//     one cause of type "Duplicate" on spec.signalFingerprint.
//   - ClaimInFlight: HTTP 429, reason TooManyRequests, details.name = the
//     claim's holder, retryAfterSeconds = 1, one cause "ClaimInFlight".
//     429 with Retry-After is what client-go itself backs off and retries on.

// claimInFlightRetry is the Retry-After hint of a ClaimInFlight denial. The
// holder is normally stored within milliseconds of its admission; a full
// grace period is only the worst case.
const claimInFlightRetry = time.Second

// DenialStatus returns the API status a webhook denies v with; nil for an
// allowed verdict.
func DenialStatus(ns, fp string, v Verdict) *metav1.Status {
	if v.Allowed {
		return nil
	}
	details := &metav1.StatusDetails{
		Group: v1alpha1.GroupVersion.Group,
		Kind:  v1alpha1.Resource,
		Causes: []metav1.StatusCause{{
			Type:  metav1.CauseType(v.Reason),
			Field: v1alpha1.FingerprintField,
		}},
	}
	s := &metav1.Status{Status: metav1.StatusFailure, Details: details}
	switch v.Reason {
	case ReasonDuplicate:
		details.Name = v.Holder.Name
		s.Code = http.StatusConflict
		s.Reason = metav1.StatusReasonConflict
		phase := v.Holder.Status.OverallPhase
		if phase == "" {
			phase = "<none>"
		}
		s.Message = fmt.Sprintf("RemediationRequest %s/%s with fingerprint %s is active (phase %s)",
			ns, v.Holder.Name, fp, phase)
	case ReasonClaimInFlight:
		details.Name = v.HolderName
		details.RetryAfterSeconds = int32(claimInFlightRetry / time.Second)
		s.Code = http.StatusTooManyRequests
		s.Reason = metav1.StatusReasonTooManyRequests
		s.Message = fmt.Sprintf("fingerprint %s is being claimed by RemediationRequest %s/%s, whose admission is still in flight; retry shortly",
			fp, ns, v.HolderName)
	default:
		s.Code = http.StatusForbidden
		s.Reason = metav1.StatusReasonForbidden
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
