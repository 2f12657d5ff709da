package scan_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/scan"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/test/webhooktest"
)

// populate stores n requests in a new unguarded namespace, every
// activeEvery-th one active, the rest Completed (a cluster's history), each
// with a fingerprint of its own. It returns the namespace.
func populate(tb testing.TB, n, activeEvery int) string {
	tb.Helper()
	ns := webhooktest.UnguardedNamespace(tb, suite.Env)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	workqueue.ParallelizeUntil(ctx, 16, n, func(i int) {
		fp, _ := dedup.Fingerprint(dedup.Target{Namespace: ns, Kind: "Deployment", Name: fmt.Sprintf("app-%d", i)})
		rr := testenv.RemediationRequest(ns, fmt.Sprintf("rr-%06d", i), fp)
		err := suite.Client.Create(ctx, rr)
		if err == nil && i%activeEvery != 0 {
			err = testenv.SetPhase(ctx, suite.Client, ns, rr.Name, v1alpha1.PhaseCompleted)
		}
		if err != nil {
			cancel(err)
		}
	})
	if err := context.Cause(ctx); err != nil {
		tb.Fatalf("populate: %v", err)
	}
	return ns
}

// liveHeap returns the live heap: HeapAlloc right after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// above returns how much the live heap is above base now.
func above(base uint64) uint64 {
	if h := liveHeap(); h > base {
		return h - base
	}
	return 0
}

// peakReader measures the live heap after every List page it returns, while
// the page is still held: the most a paged reader keeps at once.
type peakReader struct {
	client.Reader
	base, peak uint64
}

func (r *peakReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if err := r.Reader.List(ctx, list, opts...); err != nil {
		return err
	}
	r.peak = max(r.peak, above(r.base))
	runtime.KeepAlive(list)
	return nil
}

// scanPeak returns the most live heap the scan of ns (dry run, page size
// page) held above what was live before it, and the report.
func scanPeak(tb testing.TB, ns string, page int64) (uint64, *scan.Report) {
	tb.Helper()
	r := &peakReader{Reader: suite.Client, base: liveHeap()}
	rep, err := (&scan.Scanner{Reader: r, Namespace: ns, PageSize: page}).Scan(context.Background(), true)
	if err != nil {
		tb.Fatal(err)
	}
	return r.peak, rep
}

// unpagedPeak is the naive scan's footprint: one List of every request.
func unpagedPeak(tb testing.TB, ns string) uint64 {
	tb.Helper()
	base := liveHeap()
	list := &v1alpha1.RemediationRequestList{}
	if err := suite.Client.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		tb.Fatal(err)
	}
	peak := above(base)
	runtime.KeepAlive(list)
	return peak
}

// pageBytes is the live heap one decoded page of page requests holds.
func pageBytes(tb testing.TB, ns string, page int64) uint64 {
	tb.Helper()
	base := liveHeap()
	list := &v1alpha1.RemediationRequestList{}
	if err := suite.Client.List(context.Background(), list, client.InNamespace(ns), client.Limit(page)); err != nil {
		tb.Fatal(err)
	}
	b := above(base)
	runtime.KeepAlive(list)
	return b
}

// The bound a scan stays within: two decoded pages (the one being read and
// the one being dropped), 512 bytes per active request and per claim (its
// record), and 1 MiB for everything else (the client, the Report).
func memoryBound(page uint64, active, claims int) uint64 {
	return 2*page + 512*uint64(active+claims) + 1<<20
}

// A scan's memory is bounded by a page and a small record per active
// request, not by the number of requests stored: over 2,000 stored
// requests read 50 at a time it stays within memoryBound, which the
// unpaged List of the same requests exceeds (BenchmarkScan measures 50,000).
func TestScanMemoryIsBoundedByAPageNotByTheStore(t *testing.T) {
	const n, page, activeEvery = 2000, 50, 10
	ns := populate(t, n, activeEvery)
	pb := pageBytes(t, ns, page)
	peak, rep := scanPeak(t, ns, page)
	if rep.RemediationRequests != n || rep.Active != n/activeEvery {
		t.Fatalf("scanned %d (%d active), want %d (%d)", rep.RemediationRequests, rep.Active, n, n/activeEvery)
	}
	bound := memoryBound(pb, rep.Active, rep.Claims)
	naive := unpagedPeak(t, ns)
	t.Logf("one page of %d: %d kB; scan of %d: peak %d kB, bound %d kB; unpaged List: %d kB",
		page, pb>>10, n, peak>>10, bound>>10, naive>>10)
	if peak > bound {
		t.Errorf("scan held %d kB at its peak, over the bound of %d kB", peak>>10, bound>>10)
	}
	// The bound must be one a scan that holds every request breaks.
	if naive <= bound {
		t.Errorf("the unpaged List held %d kB, within the bound of %d kB: the bound proves nothing at this size", naive>>10, bound>>10)
	}
}
