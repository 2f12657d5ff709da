package scan

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// The Event a Runner records on each request of a duplicate set.
const (
	EventReason = "DuplicateActiveRemediationRequest"
	EventAction = "Scan"
)

// maxNamed bounds how many other requests one Event names: an Event's note
// holds 1 kB.
const maxNamed = 10

// Runner runs a Scanner and publishes each Report: the metrics, one Event on
// each request of a duplicate set naming the others, and one audit line per
// duplicate set and per adopted claim. The webhook's leader runs it every
// interval (webhook.Setup).
type Runner struct {
	Scanner *Scanner
	// Recorder records the Events (events.k8s.io/v1); nil records none.
	Recorder events.EventRecorder
	// Audit receives the audit lines (internal/auditlog).
	Audit   logr.Logger
	Log     logr.Logger
	Metrics *Metrics
}

// RunOnce runs one scan (adopting, never a dry run) and publishes its
// Report. A scan whose adoptions partly failed is published all the same.
func (r *Runner) RunOnce(ctx context.Context) (*Report, error) {
	start := time.Now()
	rep, err := r.Scanner.Scan(ctx, false)
	result := "success"
	if err != nil {
		result = "error"
	}
	if r.Metrics != nil {
		r.Metrics.runs.WithLabelValues(result).Inc()
		r.Metrics.duration.Set(time.Since(start).Seconds())
	}
	if rep == nil {
		return nil, err
	}
	r.publish(rep)
	r.Log.Info("scan done", "remediationRequests", rep.RemediationRequests, "active", rep.Active,
		"claims", rep.Claims, "duplicateSets", len(rep.Duplicates), "adopted", len(rep.Adopted),
		"staleClaims", len(rep.StaleClaims), "seconds", time.Since(start).Seconds())
	return rep, err
}

// publish reports rep: its duplicate sets (step S2: the gauge, an audit
// line per set, an Event on each member), its adoptions and the other
// metrics.
func (r *Runner) publish(rep *Report) {
	if m := r.Metrics; m != nil {
		m.duplicates.Set(float64(len(rep.Duplicates)))
		m.staleClaims.Set(float64(len(rep.StaleClaims)))
		m.lastSuccess.Set(float64(rep.ScannedAt.Unix()))
		for _, a := range rep.Adopted {
			m.adopted.WithLabelValues(string(a.Action)).Inc()
		}
	}
	for _, a := range rep.Adopted {
		r.Audit.Info("claim adopted", "namespace", a.Namespace, "fingerprint", a.Fingerprint,
			"holder", a.Holder, "claimAction", string(a.Action))
	}
	for _, d := range rep.Duplicates {
		names, phases := make([]string, len(d.Requests)), make([]string, len(d.Requests))
		for i, rq := range d.Requests {
			names[i], phases[i] = rq.Name, string(rq.Phase)
		}
		r.Audit.Info("duplicate active fingerprint", "namespace", d.Namespace, "fingerprint", d.Fingerprint,
			"requests", names, "phases", phases, "claimHolder", d.ClaimHolder)
		r.recordEvents(d)
	}
}

// recordEvents records one Warning Event on each request of d, naming the
// others and, as the related object, the claim's holder.
func (r *Runner) recordEvents(d DuplicateSet) {
	if r.Recorder == nil {
		return
	}
	var holder *corev1.ObjectReference
	for _, rq := range d.Requests {
		if rq.Name == d.ClaimHolder {
			holder = ref(d.Namespace, rq)
		}
	}
	for _, rq := range d.Requests {
		others := make([]string, 0, len(d.Requests)-1)
		for _, o := range d.Requests {
			if o.Name != rq.Name {
				others = append(others, o.Name)
			}
		}
		named := strings.Join(others[:min(len(others), maxNamed)], ", ")
		if len(others) > maxNamed {
			named += fmt.Sprintf(" and %d more", len(others)-maxNamed)
		}
		// An untyped nil: a nil *ObjectReference would be a related object.
		var related runtime.Object
		if holder != nil && rq.Name != d.ClaimHolder {
			related = holder
		}
		r.Recorder.Eventf(ref(d.Namespace, rq), related, corev1.EventTypeWarning, EventReason, EventAction,
			"%d active RemediationRequests share fingerprint %s: this one and %s; the claim is held by %s",
			len(d.Requests), d.Fingerprint, named, orNone(d.ClaimHolder))
	}
}

func ref(ns string, rq Request) *corev1.ObjectReference {
	return &corev1.ObjectReference{
		APIVersion: v1alpha1.GroupVersion.String(), Kind: "RemediationRequest",
		Namespace: ns, Name: rq.Name, UID: rq.UID,
	}
}
