package scan

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
)

// DefaultPageSize is how many objects one List page asks for: a page of
// RemediationRequests as kubernaut's gateway fills them decodes to about
// 2 MB at most, whatever the number stored.
const DefaultPageSize = 500

// Adopter gives an unclaimed fingerprint's claim to its oldest active
// request; *dedup.Guard is one (dedup.Guard.Adopt).
type Adopter interface {
	Adopt(ctx context.Context, ns, fp string, dryRun bool) (dedup.Adoption, error)
}

// Scanner scans the RemediationRequests and claims of a cluster.
type Scanner struct {
	// Reader lists from the API server directly (the manager's APIReader):
	// an informer cache would hold every request in memory, which is what
	// paging avoids.
	Reader client.Reader
	// Adopter adopts unclaimed fingerprints; nil reports them only.
	Adopter Adopter
	// Namespace limits the scan to one namespace; empty scans them all.
	Namespace string
	// PageSize is the List limit. Defaults to DefaultPageSize.
	PageSize int64
	// ClaimRetention is the janitor's retention, to say when it removes a
	// stale claim. Defaults to 24h.
	ClaimRetention time.Duration
	// Now returns the current time. Defaults to time.Now.
	Now func() time.Time
}

// key is a fingerprint in a namespace: what one claim guards.
type key struct{ ns, fp string }

// claimState is what a scan keeps of one claim.
type claimState struct {
	name          string
	holder        string
	holderUID     types.UID
	inactiveSince string
	// holderActive is set when the RemediationRequest List met the holder,
	// with the recorded UID, active.
	holderSeen, holderActive bool
	// handedOn is set when adoption gave the claim to another holder.
	handedOn bool
}

// Snapshot is what Collect read: the active requests grouped by namespace
// and fingerprint, and the claims. Its memory is a small record per active
// request and per claim.
type Snapshot struct {
	// At is when the listing started.
	At time.Time
	// Stored, Active and Claims count what was listed.
	Stored, Active, Claims int
	// Pages counts the List pages read.
	Pages  int
	groups map[key][]Request
	claims map[key]*claimState
}

func (s *Scanner) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Scanner) pageSize() int64 {
	if s.PageSize > 0 {
		return s.PageSize
	}
	return DefaultPageSize
}

func (s *Scanner) retention() time.Duration {
	if s.ClaimRetention > 0 {
		return s.ClaimRetention
	}
	return 24 * time.Hour
}

// Scan collects, adopts (none in a dry run) and reports. An adoption that
// fails does not stop the others: the Report is complete, and the error
// joins every failure.
func (s *Scanner) Scan(ctx context.Context, dryRun bool) (*Report, error) {
	snap, err := s.Collect(ctx)
	if err != nil {
		return nil, err
	}
	return s.Settle(ctx, snap, dryRun)
}

// Collect lists the claims, then every RemediationRequest, in pages (step
// S1). The
// claims come first so that a claim taken after its listing cannot make a
// request stored before it look unclaimed: a holder listed after its claim
// is seen as it is now.
func (s *Scanner) Collect(ctx context.Context) (*Snapshot, error) {
	snap := &Snapshot{At: s.now(), groups: map[key][]Request{}, claims: map[key]*claimState{}}
	err := listPages(ctx, s, func() *coordinationv1.LeaseList { return &coordinationv1.LeaseList{} },
		func(page *coordinationv1.LeaseList) {
			for i := range page.Items {
				snap.addClaim(&page.Items[i])
			}
		}, client.MatchingLabels{dedup.ManagedByLabel: dedup.ManagedByValue})
	if err != nil {
		return nil, fmt.Errorf("list claims: %w", err)
	}
	err = listPages(ctx, s, func() *v1alpha1.RemediationRequestList { return &v1alpha1.RemediationRequestList{} },
		func(page *v1alpha1.RemediationRequestList) {
			snap.Pages++
			for i := range page.Items {
				snap.addRequest(&page.Items[i])
			}
		})
	if err != nil {
		return nil, fmt.Errorf("list remediationrequests: %w", err)
	}
	return snap, nil
}

// listPages lists page by page into a fresh list each time (decoding into
// a reused list would keep fields of the previous page's objects that the
// next page leaves out), handing each page to each and dropping it before
// the next. The pages share the first page's resourceVersion: one
// consistent snapshot.
func listPages[L client.ObjectList](ctx context.Context, s *Scanner, newList func() L, each func(L), opts ...client.ListOption) error {
	opts = append(opts, client.InNamespace(s.Namespace), client.Limit(s.pageSize()))
	cont := ""
	for {
		page := newList()
		if err := s.Reader.List(ctx, page, append(opts, client.Continue(cont))...); err != nil {
			return err
		}
		each(page)
		if cont = page.GetContinue(); cont == "" {
			return nil
		}
	}
}

func (snap *Snapshot) addClaim(l *coordinationv1.Lease) {
	c := dedup.Claim{Lease: l}
	fp := c.Fingerprint()
	snap.Claims++
	snap.claims[key{l.Namespace, fp}] = &claimState{
		name: l.Name, holder: c.HolderName(), holderUID: c.HolderUID(),
		inactiveSince: l.Annotations[dedup.InactiveSinceAnnotation],
	}
}

func (snap *Snapshot) addRequest(rr *v1alpha1.RemediationRequest) {
	snap.Stored++
	k := key{rr.Namespace, rr.Spec.SignalFingerprint}
	active := dedup.IsActive(rr)
	if c := snap.claims[k]; c != nil && c.holder == rr.Name && (c.holderUID == "" || c.holderUID == rr.UID) {
		c.holderSeen, c.holderActive = true, active
	}
	if !active {
		return
	}
	snap.Active++
	snap.groups[k] = append(snap.groups[k], Request{
		Name: rr.Name, UID: rr.UID, Phase: rr.Status.OverallPhase, CreatedAt: rr.CreationTimestamp.UTC(),
	})
}

// Settle adopts the fingerprints whose claim vouches for none of their
// active requests (none in a dry run, or without an Adopter) and builds the
// Report. Adoption's claim writes are all it writes (step S6). A fingerprint whose claim names one of its active requests costs
// no request at all; the others cost Adopt's fresh reads.
func (s *Scanner) Settle(ctx context.Context, snap *Snapshot, dryRun bool) (*Report, error) {
	r := &Report{
		ScannedAt: snap.At, Namespace: s.Namespace, DryRun: dryRun,
		RemediationRequests: snap.Stored, Active: snap.Active, Claims: snap.Claims,
		Duplicates: []DuplicateSet{}, Adopted: []AdoptedClaim{}, StaleClaims: []StaleClaim{},
	}
	var errs []error
	for _, k := range sortedKeys(snap.groups) {
		reqs := snap.groups[k]
		holder := ""
		if c := snap.claims[k]; c != nil && c.holderActive {
			holder = c.holder
		} else if s.Adopter != nil {
			a, err := s.Adopter.Adopt(ctx, k.ns, k.fp, dryRun)
			if err != nil {
				errs = append(errs, fmt.Errorf("adopt fingerprint %s in %s: %w", k.fp, k.ns, err))
			}
			if a.Holder != nil {
				holder = a.Holder.Name
			}
			if a.Action != dedup.ClaimNone && a.Action != "" {
				r.Adopted = append(r.Adopted, AdoptedClaim{Namespace: k.ns, Fingerprint: k.fp, Holder: holder, Action: a.Action})
				if c := snap.claims[k]; c != nil {
					c.handedOn = true
				}
			}
		}
		if len(reqs) > 1 {
			slices.SortFunc(reqs, func(a, b Request) int {
				return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.Name, b.Name))
			})
			r.Duplicates = append(r.Duplicates, DuplicateSet{Namespace: k.ns, Fingerprint: k.fp, ClaimHolder: holder, Requests: reqs})
		}
	}
	for _, k := range sortedKeys(snap.claims) {
		if sc, ok := s.stale(k, snap.claims[k], snap.At); ok {
			r.StaleClaims = append(r.StaleClaims, sc)
		}
	}
	return r, errors.Join(errs...)
}

// stale reports claim c as the janitor sees it (step S5): a holder gone or inactive
// is marked, and the claim removed once marked for the retention.
func (s *Scanner) stale(k key, c *claimState, at time.Time) (StaleClaim, bool) {
	if c.holderActive || c.handedOn {
		return StaleClaim{}, false
	}
	sc := StaleClaim{Namespace: k.ns, Claim: c.name, Fingerprint: k.fp, Holder: c.holder, HolderState: HolderGone}
	if c.holderSeen {
		sc.HolderState = HolderInactive
	}
	// Not marked yet: the janitor marks it at its next sweep, so removal
	// comes a retention after that at the earliest.
	since := at
	if t, err := time.Parse(time.RFC3339, c.inactiveSince); err == nil {
		sc.InactiveSince = &t
		since = t
	}
	sc.RemovalAfter = since.Add(s.retention()).UTC()
	return sc, true
}

// sortedKeys returns m's keys by namespace, then fingerprint.
func sortedKeys[V any](m map[key]V) []key {
	keys := make([]key, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return cmp.Or(strings.Compare(a.ns, b.ns), strings.Compare(a.fp, b.fp)) })
	return keys
}
