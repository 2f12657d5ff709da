package reference

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Doc is what one binary's section of the reference states.
type Doc struct {
	Flags   []Flag
	Metrics []Metric
}

// ParseDoc reads the section of markdown under the heading "## <binary>"
// (up to the next such heading): the rows of the table under its
// "### Flags" heading (flag, type, default, meaning) and of the table under
// its "### Metrics" heading (metric, type, labels, meaning). A cell's value
// is its first `code span`; a cell without one (— in the reference) is empty.
func ParseDoc(markdown, binary string) (Doc, error) {
	var doc Doc
	section, sub := false, ""
	for line := range strings.SplitSeq(markdown, "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			section, sub = strings.TrimSpace(line[3:]) == binary, ""
			continue
		case strings.HasPrefix(line, "### "):
			sub = strings.TrimSpace(line[4:])
			continue
		}
		if !section || (sub != "Flags" && sub != "Metrics") || !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) < 4 {
			return Doc{}, fmt.Errorf("%s: row %q has fewer than 4 cells", binary, line)
		}
		switch sub {
		case "Flags":
			doc.Flags = append(doc.Flags, Flag{
				Name: strings.TrimPrefix(code(cells[0]), "--"), Type: code(cells[1]), Default: code(cells[2]),
			})
		case "Metrics":
			doc.Metrics = append(doc.Metrics, Metric{Name: code(cells[0]), Type: code(cells[1]), Labels: codes(cells[2])})
		}
	}
	if len(doc.Flags) == 0 || len(doc.Metrics) == 0 {
		return Doc{}, fmt.Errorf("no flag or no metric table under \"## %s\"", binary)
	}
	return doc, nil
}

var codeSpan = regexp.MustCompile("`([^`]*)`")

// code is a cell's first code span; "" for a cell that is none.
func code(cell string) string {
	if m := codeSpan.FindStringSubmatch(cell); m != nil {
		return m[1]
	}
	return ""
}

// codes are every code span of a cell.
func codes(cell string) []string {
	var all []string
	for _, m := range codeSpan.FindAllStringSubmatch(cell, -1) {
		all = append(all, m[1])
	}
	return all
}

// Check names each difference between what a binary registers and what
// its section of the reference states: a flag or metric missing there,
// one stated with another type, default or labels, one stated that the
// binary lacks.
func Check(doc Doc, flags []Flag, metrics []Metric) []string {
	var diffs []string
	diffs = append(diffs, compare("flag --", key(flags, func(f Flag) string { return f.Name }),
		key(doc.Flags, func(f Flag) string { return f.Name }))...)
	name := func(m Metric) string { return m.Name }
	diffs = append(diffs, compare("metric ", key(metrics, name), key(doc.Metrics, name))...)
	slices.Sort(diffs)
	return diffs
}

// key indexes items by name, each with its description.
func key[T any](items []T, name func(T) string) map[string]string {
	m := make(map[string]string, len(items))
	for _, it := range items {
		m[name(it)] = fmt.Sprintf("%+v", it)
	}
	return m
}

func compare(kind string, got, doc map[string]string) []string {
	var diffs []string
	for n, g := range got {
		switch d, ok := doc[n]; {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s%s is registered, not in %s: %s", kind, n, Path, g))
		case d != g:
			diffs = append(diffs, fmt.Sprintf("%s%s: registered %s, %s states %s", kind, n, g, Path, d))
		}
	}
	for n, d := range doc {
		if _, ok := got[n]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s%s is in %s, not registered: %s", kind, n, Path, d))
		}
	}
	return diffs
}
