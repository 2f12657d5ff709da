package reference

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rrguard/rrguard/test/testenv"
)

// Case is one run of the check on a binary's section of the reference.
type Case struct {
	// Flag is bound besides the binary's flags, as a bool.
	Flag string
	// Metric is registered besides the binary's metrics.
	Metric prometheus.Collector
	// Old, when set, is replaced once by New in the reference.
	Old, New string
	// WantDiff is what the one difference found says; empty: none found.
	WantDiff string
}

// Run checks binary's section of the reference as built and under each of
// cases, the binary's negative controls (reference edits): bind binds the
// binary's flags, register registers its metrics. Every binary's check is
// also shown to fail on a flag and on a metric added without their lines.
func Run(t *testing.T, binary string, bind func(*flag.FlagSet), register func(prometheus.Registerer), cases map[string]Case) {
	t.Helper()
	cases["the binary as built"] = Case{}
	cases["a flag added without its line"] = Case{Flag: "undocumented", WantDiff: "flag --undocumented is registered, not in"}
	cases["a metric added without its line"] = Case{
		Metric:   prometheus.NewCounter(prometheus.CounterOpts{Name: "rrguard_undocumented_total", Help: "x"}),
		WantDiff: "metric rrguard_undocumented_total is registered, not in",
	}
	markdown, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), Path))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			fs := flag.NewFlagSet(binary, flag.ContinueOnError)
			bind(fs)
			if tc.Flag != "" {
				fs.Bool(tc.Flag, false, "x")
			}
			doc := string(markdown)
			if tc.Old != "" {
				if !strings.Contains(doc, tc.Old) {
					t.Fatalf("%s has no %q to change", Path, tc.Old)
				}
				doc = strings.Replace(doc, tc.Old, tc.New, 1)
			}
			diffs, err := Verify(doc, binary, Flags(fs), func(reg prometheus.Registerer) {
				register(reg)
				if tc.Metric != nil {
					reg.MustRegister(tc.Metric)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if tc.WantDiff == "" {
				for _, d := range diffs {
					t.Error(d)
				}
				return
			}
			if len(diffs) != 1 || !strings.Contains(diffs[0], tc.WantDiff) {
				t.Errorf("differences %q, want one naming %q", diffs, tc.WantDiff)
			}
		})
	}
}
