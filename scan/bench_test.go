package scan_test

import (
	"sync"
	"testing"

	"github.com/rrguard/rrguard/scan"
)

var (
	stored50k     sync.Once
	stored50kNS   string
	stored50kSize = 50_000
)

// BenchmarkScan scans 50,000 stored requests (every tenth active, each
// fingerprint its own, the rest Completed) with the default page size and
// reports the most live heap the scan held, the bound it is held to
// (memoryBound), one decoded page, and the unpaged List of the same
// requests as the baseline in the same run. Storing the requests takes a
// few minutes on 2 cores; it happens once per process, outside the timer.
//
//	go test -run '^$' -bench BenchmarkScan -benchtime 3x ./scan/
func BenchmarkScan(b *testing.B) {
	stored50k.Do(func() { stored50kNS = populate(b, stored50kSize, 10) })
	ns := stored50kNS
	pb := pageBytes(b, ns, scan.DefaultPageSize)
	naive := unpagedPeak(b, ns)
	var peak uint64
	var rep *scan.Report
	for b.Loop() {
		p, r := scanPeak(b, ns, scan.DefaultPageSize)
		peak, rep = max(peak, p), r
	}
	b.StopTimer()
	if rep.RemediationRequests != stored50kSize {
		b.Fatalf("scanned %d, want %d", rep.RemediationRequests, stored50kSize)
	}
	bound := memoryBound(pb, rep.Active, rep.Claims)
	if peak > bound {
		b.Errorf("scan held %d kB at its peak, over the bound of %d kB", peak>>10, bound>>10)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
	b.ReportMetric(float64(bound)/(1<<20), "bound-MiB")
	b.ReportMetric(float64(pb)/(1<<20), "page-MiB")
	b.ReportMetric(float64(naive)/(1<<20), "unpaged-MiB")
	b.ReportMetric(float64(naive)/float64(max(peak, 1)), "unpaged/scan")
}
