package test

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/rrguard/rrguard/test/testenv"
)

const module = "github.com/rrguard/rrguard/"

// layoutRules say which of the module's packages a package may import
// outside its tests. Arrows point down: the binaries wire libraries, the
// libraries share internal/, and the rigs under test/ sit beside them, never
// beneath them.
var layoutRules = []struct {
	rule string
	// applies says whether the rule covers importer.
	applies func(importer string) bool
	// forbidden says whether importer may not import imported.
	forbidden func(importer, imported string) bool
}{
	{
		rule:      "only rigs, cmd/rrguard-dev and cmd/rrguard-load import test/",
		applies:   func(p string) bool { return !under(p, "test") && p != "cmd/rrguard-dev" && p != "cmd/rrguard-load" },
		forbidden: func(_, q string) bool { return under(q, "test") },
	},
	{
		rule:      "internal/ is shared code beneath every library: it imports only api/ and internal/",
		applies:   func(p string) bool { return under(p, "internal") },
		forbidden: func(_, q string) bool { return !under(q, "api") && !under(q, "internal") },
	},
	{
		rule:      "dedup is the one decision core beneath the gateway, the webhook and the scan",
		applies:   func(p string) bool { return p == "dedup" },
		forbidden: func(_, q string) bool { return !under(q, "api") && !under(q, "internal") },
	},
	{
		rule:      "no package imports a binary",
		applies:   func(string) bool { return true },
		forbidden: func(_, q string) bool { return under(q, "cmd") },
	},
}

func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// TestImportsPointDown holds the layout the README describes, on the
// imports `go list` reports for every package of the module (test files
// excluded).
func TestImportsPointDown(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...")
	cmd.Dir = testenv.RepoRoot()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	imports := parseImports(string(out))
	if len(imports) < 20 || imports["dedup"] == nil {
		t.Fatalf("go list named %d packages, dedup's imports %v: not the module's", len(imports), imports["dedup"])
	}
	for p, deps := range imports {
		for _, r := range layoutRules {
			if !r.applies(p) {
				continue
			}
			for _, q := range deps {
				if r.forbidden(p, q) {
					t.Errorf("%s imports %s: %s", p, q, r.rule)
				}
			}
		}
	}
}

// parseImports reads `go list` lines into each package's imports of the
// module's own packages, both relative to the module.
func parseImports(out string) map[string][]string {
	imports := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		p := strings.TrimPrefix(fields[0], module)
		imports[p] = []string{}
		for _, q := range fields[1:] {
			if rel, ok := strings.CutPrefix(q, module); ok {
				imports[p] = append(imports[p], rel)
			}
		}
	}
	return imports
}

// TestTheLayoutRulesCatchUpwardArrows shows each rule refusing the import it
// exists for, so that a rule that can never fire is noticed.
func TestTheLayoutRulesCatchUpwardArrows(t *testing.T) {
	upward := map[string][2]string{
		"only rigs, cmd/rrguard-dev and cmd/rrguard-load import test/":                       {"gateway", "test/testenv"},
		"internal/ is shared code beneath every library: it imports only api/ and internal/": {"internal/kube", "webhook"},
		"dedup is the one decision core beneath the gateway, the webhook and the scan":       {"dedup", "gateway/signal"},
		"no package imports a binary": {"test/devenv", "cmd/webhook"},
	}
	for _, r := range layoutRules {
		arrow, ok := upward[r.rule]
		if !ok {
			t.Errorf("rule %q has no upward arrow to catch here", r.rule)
			continue
		}
		if !r.applies(arrow[0]) || !r.forbidden(arrow[0], arrow[1]) {
			t.Errorf("rule %q lets %s import %s", r.rule, arrow[0], arrow[1])
		}
	}
	if !layoutRules[0].applies("cmd/webhook") || layoutRules[0].applies("cmd/rrguard-load") || layoutRules[0].applies("test/load") {
		t.Error("the test/ rule covers the wrong importers")
	}
}
