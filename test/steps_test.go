package test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rrguard/rrguard/test/testenv"
)

// stepTitle is a step's definition in docs/design.md: "* **C1. Claim
// first.**", its ID and the start of its title.
var stepTitle = regexp.MustCompile(`(?m)^\* \*\*([A-Z][0-9]+)\.\s*([^*]*)`)

// stepRow is a row of the design's step table: the step and its function
// in backquotes, or "an argument".
var stepRow = regexp.MustCompile("(?m)^\\| ([A-Z][0-9]+) \\| (?:`([^`]+)`|(an argument)) \\|")

// TestEveryStepNamesTheFunctionThatCitesIt holds the table at the end of
// docs/design.md to the design's steps and to the code.
func TestEveryStepNamesTheFunctionThatCitesIt(t *testing.T) {
	root := testenv.RepoRoot()
	design, err := os.ReadFile(filepath.Join(root, "docs", "design.md"))
	if err != nil {
		t.Fatal(err)
	}
	problems, rows := checkSteps(string(design), func(fn string) (string, error) { return docComment(root, fn) })
	if rows < 30 {
		t.Fatalf("read %d rows of the step table: not the design's", rows)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// checkSteps names each step of design without a row, each row without a
// step, each row whose function doc cannot find, and each function whose
// doc comment does not cite its step; and counts the rows.
func checkSteps(design string, doc func(fn string) (string, error)) ([]string, int) {
	titles := map[string]string{}
	for _, m := range stepTitle.FindAllStringSubmatch(design, -1) {
		titles[m[1]] = m[2]
	}
	var problems []string
	rows := stepRow.FindAllStringSubmatch(design, -1)
	seen := map[string]bool{}
	for _, r := range rows {
		step, fn, argument := r[1], r[2], r[3] != ""
		seen[step] = true
		title, ok := titles[step]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("row %s: the design defines no step %s", step, step))
		case argument && !strings.HasPrefix(title, "Why"):
			problems = append(problems, fmt.Sprintf("row %s: %q is a step, not an argument: name its function", step, title))
		case !argument:
			problems = append(problems, citation(step, fn, doc)...)
		}
	}
	for step := range titles {
		if !seen[step] {
			problems = append(problems, fmt.Sprintf("step %s has no row in the step table", step))
		}
	}
	return problems, len(rows)
}

// citation checks that fn's doc comment cites step as a word ("C1", not
// the "C1" of "C10").
func citation(step, fn string, doc func(string) (string, error)) []string {
	text, err := doc(fn)
	if err != nil {
		return []string{fmt.Sprintf("row %s: %v", step, err)}
	}
	if !regexp.MustCompile(`\b` + step + `\b`).MatchString(text) {
		return []string{fmt.Sprintf("row %s: the doc comment of %s does not cite %s", step, fn, step)}
	}
	return nil
}

// docComment returns the doc comment of fn, written "dir.Func" or
// "dir.Type.Method" with dir the package's folder from root, read from the
// package's non-test files.
func docComment(root, fn string) (string, error) {
	slash := strings.LastIndex(fn, "/") + 1
	dot := strings.Index(fn[slash:], ".")
	if dot < 0 {
		return "", fmt.Errorf("%s names no package", fn)
	}
	dir, name := fn[:slash+dot], fn[slash+dot+1:]
	recv, name, isMethod := strings.Cut(name, ".")
	if !isMethod {
		recv, name = "", recv
	}
	files, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(dir), "*.go"))
	if err != nil {
		return "", err
	}
	fset := token.NewFileSet()
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return "", err
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == name && receiver(fd) == recv {
				return fd.Doc.Text(), nil
			}
		}
	}
	return "", fmt.Errorf("no function %s in %s", fn, dir)
}

// receiver is the name of fd's receiver type, "" for a function.
func receiver(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return ""
	}
	t := fd.Recv.List[0].Type
	if star, ok := t.(*ast.StarExpr); ok {
		t = star.X
	}
	if idx, ok := t.(*ast.IndexExpr); ok {
		t = idx.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

// TestTheStepCheckCatchesEachGap runs the check on a small design and code
// with one gap each: a step added without its row, a row whose function is
// gone, a comment that cites another step, an argument row for a step that
// is code. Each gap is named, and the complete version passes.
func TestTheStepCheckCatchesEachGap(t *testing.T) {
	const steps = "* **C1. Claim first.** x\n* **C2. Look.** y\n* **E4. Why it holds.** z\n"
	const table = "| C1 | `dedup.d.claimFirst` |\n| C2 | `dedup.look` |\n| E4 | an argument |\n"
	docs := map[string]string{"dedup.d.claimFirst": "claimFirst is step C1.", "dedup.look": "look is step C2, then C10."}
	doc := func(fn string) (string, error) {
		if d, ok := docs[fn]; ok {
			return d, nil
		}
		return "", fmt.Errorf("no function %s", fn)
	}
	tests := map[string]struct{ design, want string }{
		"complete":                          {steps + table, ""},
		"a step without its row":            {steps + "* **C3. Read.** r\n" + table, "step C3 has no row"},
		"a row whose function is gone":      {steps + strings.Replace(table, "dedup.look", "dedup.gone", 1), "no function dedup.gone"},
		"a comment citing another step":     {steps + strings.Replace(table, "| C1 | `dedup.d.claimFirst`", "| C1 | `dedup.look`", 1), "does not cite C1"},
		"an argument row for a code step":   {steps + strings.Replace(table, "| C2 | `dedup.look` |", "| C2 | an argument |", 1), "not an argument"},
		"a row for a step the design lacks": {steps + table + "| G1 | `dedup.look` |\n", "defines no step G1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			problems, _ := checkSteps(tc.design, doc)
			if tc.want == "" {
				if len(problems) != 0 {
					t.Errorf("problems %q, want none", problems)
				}
				return
			}
			if len(problems) != 1 || !strings.Contains(problems[0], tc.want) {
				t.Errorf("problems %q, want one naming %q", problems, tc.want)
			}
		})
	}
	if _, err := docComment(testenv.RepoRoot(), "dedup.decision.nothing"); err == nil {
		t.Error("docComment found a function that does not exist")
	}
}
