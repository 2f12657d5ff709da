package test

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
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
		rule:      "the gateway never imports the webhook",
		applies:   func(p string) bool { return under(p, "gateway") },
		forbidden: func(_, q string) bool { return under(q, "webhook") },
	},
	{
		rule:      "the webhook never imports the gateway",
		applies:   func(p string) bool { return under(p, "webhook") },
		forbidden: func(_, q string) bool { return under(q, "gateway") },
	},
	{
		rule:      "counter is the one counting core beneath the gateway and the webhook: it imports neither",
		applies:   func(p string) bool { return p == "counter" },
		forbidden: func(_, q string) bool { return under(q, "gateway") || under(q, "webhook") || under(q, "scan") },
	},
	{
		rule:      "signal parsing (gateway/signal) imports no other part of the gateway",
		applies:   func(p string) bool { return under(p, "gateway/signal") },
		forbidden: func(_, q string) bool { return under(q, "gateway") && !under(q, "gateway/signal") },
	},
	{
		rule:      "the pipeline never imports the HTTP layer or the gateway's wiring",
		applies:   func(p string) bool { return under(p, "gateway/pipeline") },
		forbidden: func(_, q string) bool { return q == "gateway" || under(q, "gateway/httpapi") },
	},
	{
		rule:      "the scan never imports the webhook or the gateway",
		applies:   func(p string) bool { return under(p, "scan") || p == "cmd/rrguard-scan" },
		forbidden: func(_, q string) bool { return under(q, "webhook") || under(q, "gateway") },
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
		"only rigs, cmd/rrguard-dev and cmd/rrguard-load import test/":                             {"gateway", "test/testenv"},
		"internal/ is shared code beneath every library: it imports only api/ and internal/":       {"internal/kube", "webhook"},
		"dedup is the one decision core beneath the gateway, the webhook and the scan":             {"dedup", "gateway/signal"},
		"the gateway never imports the webhook":                                                    {"gateway/httpapi", "webhook"},
		"the webhook never imports the gateway":                                                    {"webhook", "gateway/pipeline"},
		"counter is the one counting core beneath the gateway and the webhook: it imports neither": {"counter", "gateway/signal"},
		"signal parsing (gateway/signal) imports no other part of the gateway":                     {"gateway/signal", "gateway/pipeline"},
		"the pipeline never imports the HTTP layer or the gateway's wiring":                        {"gateway/pipeline", "gateway/httpapi"},
		"the scan never imports the webhook or the gateway":                                        {"scan", "webhook"},
		"no package imports a binary":                                                              {"test/devenv", "cmd/webhook"},
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

// maxFunctionLines bounds a non-test function, literals included: past it a
// function does several things, and each should have a name.
const maxFunctionLines = 60

// TestNoFunctionIsLongerThanSixtyLines walks every non-test, non-generated
// Go file of the module (tools/ holds separate modules) and names each
// function whose declaration spans more than maxFunctionLines lines.
func TestNoFunctionIsLongerThanSixtyLines(t *testing.T) {
	root := testenv.RepoRoot()
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (name == "tools" || name == "bin" || name == "testdata" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.HasPrefix(d.Name(), "zz_generated") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		for _, long := range longFunctions(fset, f) {
			rel, _ := filepath.Rel(root, path)
			t.Errorf("%s:%s", rel, long)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("read %d Go files under %s: not the module", files, root)
	}
}

// longFunctions names f's functions and function literals longer than
// maxFunctionLines, with their line and length.
func longFunctions(fset *token.FileSet, f *ast.File) []string {
	var long []string
	ast.Inspect(f, func(n ast.Node) bool {
		var body *ast.BlockStmt
		name := "func literal"
		switch fn := n.(type) {
		case *ast.FuncDecl:
			body, name = fn.Body, fn.Name.Name
		case *ast.FuncLit:
			body = fn.Body
		}
		if body == nil {
			return true
		}
		start, end := fset.Position(n.Pos()).Line, fset.Position(body.Rbrace).Line
		if lines := end - start + 1; lines > maxFunctionLines {
			long = append(long, fmt.Sprintf("%d %s is %d lines", start, name, lines))
		}
		return true
	})
	return long
}

// TestLongFunctionsAreFound shows the length check firing on a function one
// line too long, and not on one exactly at the bound.
func TestLongFunctionsAreFound(t *testing.T) {
	src := func(name string, lines int) string {
		return "func " + name + "() {\n" + strings.Repeat("\t_ = 0\n", lines-2) + "}\n"
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x.go", "package x\n"+src("atTheBound", maxFunctionLines)+src("tooLong", maxFunctionLines+1), 0)
	if err != nil {
		t.Fatal(err)
	}
	got := longFunctions(fset, f)
	if want := fmt.Sprintf("%d tooLong is %d lines", 2+maxFunctionLines, maxFunctionLines+1); len(got) != 1 || got[0] != want {
		t.Errorf("long functions %q, want only %q", got, want)
	}
}
