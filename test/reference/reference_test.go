package reference

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rrguard/rrguard/test/testenv"
)

const module = "github.com/rrguard/rrguard/"

// TestEveryMetricsConstructorIsWired holds WebhookMetrics and
// GatewayMetrics to the module: every function outside tests that takes a
// prometheus.Registerer first is called by one of them, so that new
// metrics cannot escape the reference test.
func TestEveryMetricsConstructorIsWired(t *testing.T) {
	root := testenv.RepoRoot()
	declared := declaredConstructors(t, root)
	if len(declared) < 4 {
		t.Fatalf("found NewMetrics in %v: not the module", declared)
	}
	called := calledConstructors(t, filepath.Join(root, "test", "reference", "binaries.go"))
	if !slices.Equal(slices.Sorted(maps.Keys(declared)), slices.Sorted(maps.Keys(called))) {
		t.Errorf("packages declaring NewMetrics %v, called by the binaries' lists %v", slices.Sorted(maps.Keys(declared)), slices.Sorted(maps.Keys(called)))
	}
}

// declaredConstructors are the functions (package relative to the module,
// dot, name) outside tests that take a prometheus.Registerer first.
func declaredConstructors(t *testing.T, root string) map[string]bool {
	pkgs := map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (n == "tools" || n == "bin" || n == "test" || n == "testdata" || strings.HasPrefix(n, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil && takesRegisterer(fn) {
				rel, _ := filepath.Rel(root, filepath.Dir(path))
				pkgs[filepath.ToSlash(rel)+"."+fn.Name.Name] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// calledConstructors are the functions named NewMetrics or Register...
// that file calls in the module's packages, written as declaredConstructors
// writes them.
func calledConstructors(t *testing.T, file string) map[string]bool {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	imports := map[string]string{}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if rel, ok := strings.CutPrefix(path, module); ok {
			imports[filepath.Base(path)] = rel
		}
	}
	pkgs := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok && imports[id.Name] != "" &&
			(sel.Sel.Name == "NewMetrics" || strings.HasPrefix(sel.Sel.Name, "Register")) {
			pkgs[imports[id.Name]+"."+sel.Sel.Name] = true
		}
		return true
	})
	return pkgs
}

// TestConstructorsAreFoundInSource shows both readers at work on a file
// that calls one constructor, so that a reader that finds nothing cannot
// pass the test above on two empty sets.
func TestConstructorsAreFoundInSource(t *testing.T) {
	dir := t.TempDir()
	src := "package x\nimport (\n\"github.com/rrguard/rrguard/scan\"\n\"github.com/prometheus/client_golang/prometheus\"\n)\n" +
		"func F() { scan.NewMetrics(nil) }\nfunc NewMetrics(reg prometheus.Registerer) {}\nfunc Other(n int) {}\n"
	if err := writeFile(filepath.Join(dir, "x", "x.go"), src); err != nil {
		t.Fatal(err)
	}
	if got := calledConstructors(t, filepath.Join(dir, "x", "x.go")); !got["scan.NewMetrics"] || len(got) != 1 {
		t.Errorf("calls found %v, want scan.NewMetrics", got)
	}
	if got := declaredConstructors(t, dir); !got["x.NewMetrics"] || len(got) != 1 {
		t.Errorf("declarations found %v, want x.NewMetrics", got)
	}
}

func writeFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), 0o644)
}

// takesRegisterer reports whether fn's first parameter is a
// prometheus.Registerer: it registers metrics.
func takesRegisterer(fn *ast.FuncDecl) bool {
	params := fn.Type.Params.List
	if len(params) == 0 {
		return false
	}
	sel, ok := params[0].Type.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "Registerer"
}
