package dedup

import (
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

const (
	// ClaimPrefix starts the name of every claim Lease.
	ClaimPrefix = "rrclaim-"

	// HolderUIDAnnotation records the UID of the claim's holder beside its
	// name (Lease.spec.holderIdentity), so that a deleted and re-created
	// RemediationRequest of the same name is not mistaken for the holder.
	HolderUIDAnnotation = "rrguard.kubernaut.ai/holder-uid"

	// FingerprintAnnotation records the fingerprint on the claim. It is an
	// annotation because a 64-character fingerprint is one too long for a
	// label value.
	FingerprintAnnotation = "rrguard.kubernaut.ai/fingerprint"

	// PendingReactivationAnnotation records, on a claim taken for a
	// reactivation, the resourceVersion the holder was stored at when its
	// status update was admitted. Admission runs before storage: while the
	// holder is still stored at that resourceVersion, its terminal phase is
	// the state the admitted update is replacing, not a finished incident.
	PendingReactivationAnnotation = "rrguard.kubernaut.ai/pending-reactivation-resource-version"

	// InactiveSinceAnnotation is the ClaimKeeper's mark that it saw the
	// claim's holder gone or inactive, stamped with the marking replica's
	// time for people to read: no decision compares that time with a
	// clock. It speaks of one holder: a claim handed to another loses it.
	InactiveSinceAnnotation = "rrguard.kubernaut.ai/holder-inactive-since"

	// HolderStoredAnnotation records the UID of the claim's holder once the
	// ClaimKeeper has seen it stored. A holder seen stored and gone now was
	// deleted (kubectl delete, a TTL) and is never stored again, so the
	// Guard need not wait out the grace for it. It speaks of one holder: a
	// claim handed to another loses it.
	HolderStoredAnnotation = "rrguard.kubernaut.ai/holder-stored"

	// ManagedByLabel marks claims so that the janitor can list exactly them.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// ManagedByValue is ManagedByLabel's value on claims.
	ManagedByValue = "rrguard"
)

// ClaimName returns the name of the claim Lease for fingerprint fp.
func ClaimName(fp string) string { return ClaimPrefix + fp }

// Claim is a read view of a claim Lease.
type Claim struct {
	// Lease is the claim as stored; its resourceVersion guards every change.
	Lease *coordinationv1.Lease
}

// HolderName returns the name of the RemediationRequest holding the claim.
func (c Claim) HolderName() string { return ptr.Deref(c.Lease.Spec.HolderIdentity, "") }

// HolderUID returns the UID recorded for the holder.
func (c Claim) HolderUID() types.UID {
	return types.UID(c.Lease.Annotations[HolderUIDAnnotation])
}

// AcquiredAt returns when the current holder took the claim, by the clock of
// the replica that wrote it; the Lease's creation time where acquireTime is
// missing. It is for people: comparing it with another machine's clock is
// the mistake the Guard's AgeJudge exists to avoid.
func (c Claim) AcquiredAt() time.Time {
	if c.Lease.Spec.AcquireTime != nil {
		return c.Lease.Spec.AcquireTime.Time
	}
	return c.Lease.CreationTimestamp.Time
}

// Fingerprint returns the fingerprint the claim is for: its name says it
// (FingerprintAnnotation repeats it for people and tools).
func (c Claim) Fingerprint() string {
	return strings.TrimPrefix(c.Lease.Name, ClaimPrefix)
}

// Vouches reports whether the claim can vouch for rr, stored under its
// holder's name: rr carries the claim's fingerprint. A Guard only ever hands
// a claim to a request of its fingerprint, and a spec is immutable, so a
// claim naming a request of another fingerprint was written by something
// else (forged) and vouches for nothing.
func (c Claim) Vouches(rr *v1alpha1.RemediationRequest) bool {
	return rr.Spec.SignalFingerprint == c.Fingerprint()
}

// HolderSeenStored reports whether the ClaimKeeper recorded the holder as
// stored under the UID the claim records.
func (c Claim) HolderSeenStored() bool {
	uid := c.HolderUID()
	return uid != "" && c.Lease.Annotations[HolderStoredAnnotation] == string(uid)
}

// PendingReactivation returns the resourceVersion the holder was stored at
// when the reactivation that took the claim was admitted; "" when the claim
// was taken for a create.
func (c Claim) PendingReactivation() string {
	return c.Lease.Annotations[PendingReactivationAnnotation]
}

// HolderRef names the RemediationRequest a claim is given to.
type HolderRef struct {
	Name string
	UID  types.UID
	// PendingResourceVersion is set when the claim is given for a
	// reactivation: the holder's resourceVersion until that update lands.
	PendingResourceVersion string
}

// newClaimLease builds the claim Lease for fingerprint fp in namespace ns,
// held by h from now.
func newClaimLease(ns, fp string, h HolderRef, now time.Time) *coordinationv1.Lease {
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns,
			Name:      ClaimName(fp),
			Labels:    map[string]string{ManagedByLabel: ManagedByValue},
			Annotations: map[string]string{
				FingerprintAnnotation: fp,
			},
		},
		Spec: coordinationv1.LeaseSpec{LeaseTransitions: ptr.To[int32](0)},
	}
	setHolder(l, h, now)
	return l
}

// setHolder hands lease to h as of now. A pending reactivation recorded for
// the previous holding goes, and so do the janitor's mark and its record of
// the holder stored: they spoke of that holding only.
func setHolder(l *coordinationv1.Lease, h HolderRef, now time.Time) {
	if l.Annotations == nil {
		l.Annotations = map[string]string{}
	}
	delete(l.Annotations, InactiveSinceAnnotation)
	delete(l.Annotations, HolderStoredAnnotation)
	l.Annotations[HolderUIDAnnotation] = string(h.UID)
	if h.PendingResourceVersion != "" {
		l.Annotations[PendingReactivationAnnotation] = h.PendingResourceVersion
	} else {
		delete(l.Annotations, PendingReactivationAnnotation)
	}
	l.Spec.HolderIdentity = ptr.To(h.Name)
	t := metav1.NewMicroTime(now)
	l.Spec.AcquireTime = &t
	l.Spec.RenewTime = &t
}
