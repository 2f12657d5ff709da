package scan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/duration"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
)

// Report is one scan's findings. Its JSON form is what `rrguard-scan -o
// json` prints.
type Report struct {
	ScannedAt time.Time `json:"scannedAt"`
	// Namespace is the namespace scanned; empty for all.
	Namespace string `json:"namespace,omitempty"`
	// DryRun is set when nothing was written: Adopted then says what
	// would have been.
	DryRun bool `json:"dryRun"`
	// RemediationRequests, Active and Claims count what was listed.
	RemediationRequests int `json:"remediationRequests"`
	Active              int `json:"active"`
	Claims              int `json:"claims"`
	// Duplicates are the fingerprints with more than one active request.
	Duplicates []DuplicateSet `json:"duplicates"`
	// Adopted are the claims the scan created or handed on.
	Adopted []AdoptedClaim `json:"adopted"`
	// StaleClaims are the claims whose holder is gone or inactive, which
	// the janitor removes once the retention has passed.
	StaleClaims []StaleClaim `json:"staleClaims"`
}

// DuplicateSet is the active requests of one fingerprint in one namespace,
// when there are several.
type DuplicateSet struct {
	Namespace   string `json:"namespace"`
	Fingerprint string `json:"fingerprint"`
	// ClaimHolder is the request the claim names after the scan (the
	// oldest, where the scan adopted); empty when none of them holds it.
	ClaimHolder string `json:"claimHolder"`
	// Requests, oldest first.
	Requests []Request `json:"requests"`
}

// Request is one active RemediationRequest of a duplicate set.
type Request struct {
	Name      string         `json:"name"`
	UID       types.UID      `json:"uid"`
	Phase     v1alpha1.Phase `json:"phase"`
	CreatedAt time.Time      `json:"createdAt"`
}

// AdoptedClaim is a claim the scan gave to an active request.
type AdoptedClaim struct {
	Namespace   string `json:"namespace"`
	Fingerprint string `json:"fingerprint"`
	Holder      string `json:"holder"`
	// Action is created (the fingerprint had no claim) or takenOver (the
	// claim's holder had ended, or was never stored).
	Action dedup.ClaimAction `json:"action"`
}

// HolderState says why a claim is stale.
type HolderState string

// The states of a stale claim's holder.
const (
	HolderGone     HolderState = "gone"
	HolderInactive HolderState = "inactive"
)

// StaleClaim is a claim whose holder is gone or inactive.
type StaleClaim struct {
	Namespace   string      `json:"namespace"`
	Claim       string      `json:"claim"`
	Fingerprint string      `json:"fingerprint"`
	Holder      string      `json:"holder"`
	HolderState HolderState `json:"holderState"`
	// InactiveSince is the janitor's mark; nil until its next sweep.
	InactiveSince *time.Time `json:"inactiveSince"`
	// RemovalAfter is when the janitor removes the claim, if its holder
	// stays gone or inactive: a retention after the mark (after the scan,
	// the earliest the next mark can be, while unmarked).
	RemovalAfter time.Time `json:"removalAfter"`
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes r for a person: the duplicate sets (namespace,
// fingerprint, requests, phases, ages), the adopted claims, the stale claims
// and a summary line. Ages are as of the scan.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	section := func(title string, n int, header string) {
		fmt.Fprintf(tw, "%s: %d\n", title, n)
		if n > 0 {
			fmt.Fprintln(tw, header)
		}
	}
	section("Duplicate active RemediationRequests", len(r.Duplicates), "NAMESPACE\tFINGERPRINT\tRRS\tPHASES\tAGES\tCLAIM HOLDER")
	for _, d := range r.Duplicates {
		names, phases, ages := make([]string, len(d.Requests)), make([]string, len(d.Requests)), make([]string, len(d.Requests))
		for i, rq := range d.Requests {
			names[i], phases[i] = rq.Name, string(rq.Phase)
			if phases[i] == "" {
				phases[i] = "<none>"
			}
			ages[i] = duration.HumanDuration(r.ScannedAt.Sub(rq.CreatedAt))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Namespace, d.Fingerprint,
			strings.Join(names, ","), strings.Join(phases, ","), strings.Join(ages, ","), orNone(d.ClaimHolder))
	}
	verb := "Adopted claims"
	if r.DryRun {
		verb = "Claims to adopt (dry run)"
	}
	fmt.Fprintln(tw)
	section(verb, len(r.Adopted), "NAMESPACE\tFINGERPRINT\tHOLDER\tACTION")
	for _, a := range r.Adopted {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Namespace, a.Fingerprint, a.Holder, a.Action)
	}
	fmt.Fprintln(tw)
	section("Stale claims", len(r.StaleClaims), "NAMESPACE\tCLAIM\tHOLDER\tSTATE\tINACTIVE SINCE\tREMOVAL AFTER")
	for _, s := range r.StaleClaims {
		since := "<not marked yet>"
		if s.InactiveSince != nil {
			since = s.InactiveSince.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Namespace, s.Claim, orNone(s.Holder), s.HolderState,
			since, s.RemovalAfter.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(tw, "\nScanned %d RemediationRequests (%d active) and %d claims at %s.\n",
		r.RemediationRequests, r.Active, r.Claims, r.ScannedAt.UTC().Format(time.RFC3339))
	return tw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
