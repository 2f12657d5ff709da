package load

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
)

// Check is what the API server holds after a run, beside what the gateway
// answered.
type Check struct {
	// Fingerprints is how many fingerprints the run was about.
	Fingerprints int
	// RemediationRequests is how many requests hold those fingerprints,
	// and Active how many of them are active.
	RemediationRequests, Active int
	// Answered2xx is how many signals were answered as counted, and
	// Stored the sum of occurrenceCount over the requests.
	Answered2xx, Stored int64
	// Problems lists every fingerprint that breaks the rules: more than
	// one active request, or a stored count other than its 2xx answers.
	Problems []string
}

// Err is nil when every fingerprint with a 2xx answer has exactly one
// request, none has two active, and each stored count equals its 2xx
// answers.
func (c Check) Err() error {
	if len(c.Problems) == 0 {
		return nil
	}
	return fmt.Errorf("%d problem(s): %v", len(c.Problems), c.Problems)
}

// String reports the check in one line.
func (c Check) String() string {
	return fmt.Sprintf("%d fingerprints, %d RemediationRequests (%d active), occurrenceCount sum %d, %d answered 2xx, %d problem(s)",
		c.Fingerprints, c.RemediationRequests, c.Active, c.Stored, c.Answered2xx, len(c.Problems))
}

// Verify lists the RemediationRequests in namespace through reader (it
// should read the API server, not a cache) and checks them against
// counted, the 2xx answers per fingerprint (Result.Counted). A fingerprint
// with no 2xx answer must hold no count: any request it has must count 0.
func Verify(ctx context.Context, reader client.Reader, namespace string, counted map[string]int64) (Check, error) {
	if len(counted) == 0 {
		return Check{}, errors.New("verify: no fingerprints to check")
	}
	byFP := map[string][]v1alpha1.RemediationRequest{}
	list := &v1alpha1.RemediationRequestList{}
	opts := []client.ListOption{client.InNamespace(namespace), client.Limit(1000)}
	for {
		if err := reader.List(ctx, list, opts...); err != nil {
			return Check{}, fmt.Errorf("list remediationrequests in %s: %w", namespace, err)
		}
		for _, rr := range list.Items {
			if _, ok := counted[rr.Spec.SignalFingerprint]; ok {
				byFP[rr.Spec.SignalFingerprint] = append(byFP[rr.Spec.SignalFingerprint], rr)
			}
		}
		if list.Continue == "" {
			break
		}
		opts = []client.ListOption{client.InNamespace(namespace), client.Limit(1000), client.Continue(list.Continue)}
	}
	c := Check{Fingerprints: len(counted)}
	fps := make([]string, 0, len(counted))
	for fp := range counted {
		fps = append(fps, fp)
	}
	sort.Strings(fps)
	for _, fp := range fps {
		want := counted[fp]
		rrs := byFP[fp]
		c.Answered2xx += want
		c.RemediationRequests += len(rrs)
		var active int
		var stored int64
		for i := range rrs {
			if dedup.IsActive(&rrs[i]) {
				active++
			}
			stored += int64(rrs[i].Status.GetDeduplication().OccurrenceCount)
		}
		c.Active += active
		c.Stored += stored
		switch {
		case active > 1:
			c.Problems = append(c.Problems, fmt.Sprintf("%s: %d active RemediationRequests", fp[:12], active))
		case want > 0 && len(rrs) != 1:
			c.Problems = append(c.Problems, fmt.Sprintf("%s: %d RemediationRequests, want 1", fp[:12], len(rrs)))
		}
		if stored != want {
			c.Problems = append(c.Problems, fmt.Sprintf("%s: occurrenceCount sum %d, but %d signals answered 2xx", fp[:12], stored, want))
		}
	}
	return c, nil
}
