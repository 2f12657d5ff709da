package scan_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/scan"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
)

const storm = 32

// createStorm creates storm requests of fp in ns at once, the way a client
// does: client-go retries a ClaimInFlight denial (429, Retry-After: 1) by
// itself. It returns the names admitted.
func createStorm(t *testing.T, ns, fp string, start <-chan struct{}) []string {
	t.Helper()
	var (
		mu       sync.Mutex
		admitted []string
		wg       sync.WaitGroup
	)
	for i := range storm {
		wg.Go(func() {
			rr := testenv.RemediationRequest(ns, fmt.Sprintf("storm-%02d", i), fp)
			<-start
			err := suite.Client.Create(context.Background(), rr)
			if d, ok := dedup.DenialFromError(err); err != nil && !(ok && d.Reason == dedup.ReasonDuplicate) {
				t.Errorf("create %s: %v, want admitted or a Duplicate denial", rr.Name, err)
			}
			if err == nil {
				mu.Lock()
				admitted = append(admitted, rr.Name)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return admitted
}

// A scan adopting a duplicate set while 32 creates of its fingerprint
// arrive at once: the scan's claim create and the webhook's (step C3) race
// for one name, so exactly one claim results, naming the set's oldest
// request, and every create is denied.
func TestScanRacingAStormAdoptsOnceAndAdmitsNothing(t *testing.T) {
	for round := range 3 {
		t.Run(fmt.Sprint("round", round), func(t *testing.T) {
			ns := webhooktest.UnguardedNamespace(t, suite.Env)
			fp := newFingerprint(t)
			mustCreate(t, testenv.RemediationRequest(ns, "oldest", fp))
			mustCreate(t, testenv.RemediationRequest(ns, "younger", fp))
			guard(t, ns)

			sc := &scan.Scanner{Reader: suite.Client, Adopter: dedup.NewGuard(suite.Client, suite.Client, dedup.GuardOptions{}), Namespace: ns}
			start := make(chan struct{})
			var rep *scan.Report
			var scanErr error
			done := make(chan struct{})
			go func() {
				defer close(done)
				<-start
				rep, scanErr = sc.Scan(context.Background(), false)
			}()
			close(start)
			admitted := createStorm(t, ns, fp, start)
			<-done
			if scanErr != nil {
				t.Fatal(scanErr)
			}
			if len(admitted) != 0 {
				t.Errorf("admitted %v beside an active duplicate set, want none", admitted)
			}
			if got := webhooktest.ActiveNames(t, suite.Client, ns, fp); !slices.Equal(got, []string{"oldest", "younger"}) {
				t.Errorf("active = %v, want oldest and younger only", got)
			}
			if h := claimHolder(t, ns, fp); h != "oldest" {
				t.Errorf("claim held by %q, want oldest", h)
			}
			// The report names the claim's holder as the scan left it:
			// oldest, or none where the scan met a claim an admission of
			// the storm had just created (step C1) and left it to that
			// admission, which hands it to oldest (step C2).
			if len(rep.Duplicates) != 1 || (rep.Duplicates[0].ClaimHolder != "oldest" && rep.Duplicates[0].ClaimHolder != "") {
				t.Errorf("report = %+v, want the set, with the claim on oldest or left to an admission", rep.Duplicates)
			}
		})
	}
}

// blindAdopter is the naive adoption this suite guards against: it writes
// the claim for the holder its own listing found, whatever the claim says
// by now (create, or overwrite the existing claim), instead of re-reading
// and writing by compare-and-swap.
type blindAdopter struct {
	holder *v1alpha1.RemediationRequest
}

func (b blindAdopter) Adopt(ctx context.Context, ns, fp string) error {
	l := &coordinationv1.Lease{}
	err := suite.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: dedup.ClaimName(fp)}, l)
	now := metav1.NowMicro()
	if apierrors.IsNotFound(err) {
		l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: dedup.ClaimName(fp),
			Labels: map[string]string{dedup.ManagedByLabel: dedup.ManagedByValue}}}
	} else if err != nil {
		return err
	}
	if l.Annotations == nil {
		l.Annotations = map[string]string{}
	}
	l.Annotations[dedup.HolderUIDAnnotation] = string(b.holder.UID)
	l.Annotations[dedup.FingerprintAnnotation] = fp
	delete(l.Annotations, dedup.PendingReactivationAnnotation)
	l.Spec.HolderIdentity, l.Spec.AcquireTime = ptr.To(b.holder.Name), &now
	if l.ResourceVersion != "" {
		return suite.Client.Update(ctx, l)
	}
	err = suite.Client.Create(ctx, l)
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	// A claim appeared since the Get (an admission creates its claim
	// first): the blind adopter overwrites it all the same.
	return b.Adopt(ctx, ns, fp)
}

// An incident ends just after the scan listed it, and a new one storms in
// while the scan adopts, from a listing older than the storm's claim (a
// scan of a large cluster lists for seconds). The scan re-reads before it
// writes and writes by compare-and-swap, so it never hands the fingerprint
// back to the ended request: exactly one of the storm is admitted and holds
// the claim, however late the adoption lands. The blind adopter, under the
// same load, overwrites the new holder's claim with the ended request's,
// and the storm's retries then take it over: a second active request.
func TestAdoptionFromAStaleListingAdmitsOneOfAStorm(t *testing.T) {
	delays := []time.Duration{0, 300 * time.Millisecond, 600 * time.Millisecond}
	secondActive := 0
	for _, variant := range []string{"scan", "blind"} {
		for _, delay := range delays {
			t.Run(fmt.Sprintf("%s/after%s", variant, delay), func(t *testing.T) {
				ns := webhooktest.UnguardedNamespace(t, suite.Env)
				fp := newFingerprint(t)
				ended := mustCreate(t, testenv.RemediationRequest(ns, "ended", fp))
				guard(t, ns)
				sc := &scan.Scanner{Reader: suite.Client, Adopter: dedup.NewGuard(suite.Client, suite.Client, dedup.GuardOptions{}), Namespace: ns}
				snap, err := sc.Collect(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				testenv.MustSetPhase(t, suite.Client, ns, ended.Name, v1alpha1.PhaseCompleted)

				start := make(chan struct{})
				done := make(chan error, 1)
				go func() {
					<-start
					time.Sleep(delay)
					if variant == "blind" {
						done <- blindAdopter{holder: ended}.Adopt(context.Background(), ns, fp)
						return
					}
					_, err := sc.Settle(context.Background(), snap, false)
					done <- err
				}()
				close(start)
				admitted := createStorm(t, ns, fp, start)
				if err := <-done; err != nil {
					t.Fatalf("adopt: %v", err)
				}
				// One more create once the adoption has landed, as the
				// incident's next signal would: the claim decides it.
				late := testenv.RemediationRequest(ns, "late", fp)
				if err := suite.Client.Create(context.Background(), late); err == nil {
					admitted = append(admitted, late.Name)
				} else if d, ok := dedup.DenialFromError(err); !ok || d.Reason != dedup.ReasonDuplicate {
					t.Errorf("create late: %v, want admitted or a Duplicate denial", err)
				}
				active := webhooktest.ActiveNames(t, suite.Client, ns, fp)
				if variant == "blind" {
					if len(active) > 1 {
						secondActive++
					}
					return
				}
				if len(admitted) != 1 || !slices.Equal(active, admitted) {
					t.Fatalf("admitted %v, active %v; want exactly one of the storm, active", admitted, active)
				}
				if h := claimHolder(t, ns, fp); h != admitted[0] {
					t.Errorf("claim held by %q, want %s", h, admitted[0])
				}
			})
		}
	}
	// The load must be able to break a naive adoption, or the scan's
	// passing proves nothing.
	t.Logf("the blind adopter let a second request become active in %d of %d rounds", secondActive, len(delays))
	if secondActive == 0 {
		t.Errorf("the blind adopter never let a second request become active in %d rounds; the load does not exercise the race", len(delays))
	}
}
