package imagebuild

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the module's root, whose Dockerfile and .dockerignore are
// the ones under test.
const repoRoot = "../.."

// TestTheImageBuildsFromItsBuildContext builds both binaries from exactly
// what docker build would see (the context .dockerignore lets through,
// placed by the Dockerfile's COPYs), with the Dockerfile's go build, and
// runs each.
func TestTheImageBuildsFromItsBuildContext(t *testing.T) {
	dockerfile, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if want := dockerfileBuildLine(); !strings.Contains(string(dockerfile), want) {
		t.Fatalf("the Dockerfile does not run %q: its build and this package's have drifted apart", want)
	}
	out := t.TempDir()
	var output bytes.Buffer
	if err := Build(context.Background(), repoRoot, out, &output); err != nil {
		t.Fatalf("%v\n%s", err, output.String())
	}
	for _, bin := range []string{"webhook", "gateway"} {
		help, err := exec.Command(filepath.Join(out, bin), "--help").CombinedOutput()
		if err != nil || !strings.Contains(string(help), "-metrics-bind-address") {
			t.Errorf("%s --help: %v\n%s", bin, err, help)
		}
	}
}

// TestContextKeepsOutWhatMustStayOut holds the context to the module's
// sources: no local binaries, no tests, no other module.
func TestContextKeepsOutWhatMustStayOut(t *testing.T) {
	files, err := Context(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	has := map[string]bool{}
	for _, f := range files {
		has[f] = true
		for _, out := range []string{"bin/", ".git/", "tools/"} {
			if strings.HasPrefix(f, out) {
				t.Errorf("%s is in the build context", f)
			}
		}
		if strings.HasSuffix(f, "_test.go") || strings.Contains(f, "/testdata/") {
			t.Errorf("%s is in the build context", f)
		}
	}
	for _, want := range []string{"go.mod", "go.sum", "cmd/webhook/main.go", "scan/doc.go"} {
		if !has[want] {
			t.Errorf("%s is not in the build context", want)
		}
	}
}

// TestAFolderLeftOutFailsTheBuild is the check failing on what the
// Dockerfile and .dockerignore were: each listed the source folders one by
// one and left out scan/, which the webhook imports. Either list alone
// breaks the build.
func TestAFolderLeftOutFailsTheBuild(t *testing.T) {
	const listedIgnore = "*\n!go.mod\n!go.sum\n!api/\n!certs/\n!cmd/\n!dedup/\n!gateway/\n!internal/\n!webhook/\n**/*_test.go\n**/testdata/\n"
	const listedDockerfile = "FROM golang:1.26 AS build\nWORKDIR /src\nCOPY go.mod go.sum ./\n" +
		"COPY api/ api/\nCOPY certs/ certs/\nCOPY cmd/ cmd/\nCOPY dedup/ dedup/\nCOPY gateway/ gateway/\n" +
		"COPY internal/ internal/\nCOPY webhook/ webhook/\n"
	for name, listed := range map[string]string{".dockerignore": listedIgnore, "Dockerfile": listedDockerfile} {
		t.Run("listed "+name, func(t *testing.T) {
			root := copyContext(t)
			if err := os.WriteFile(filepath.Join(root, name), []byte(listed), 0o644); err != nil {
				t.Fatal(err)
			}
			var output bytes.Buffer
			err := Build(context.Background(), root, t.TempDir(), &output)
			if err == nil || !strings.Contains(output.String(), "github.com/rrguard/rrguard/scan") {
				t.Fatalf("Build = %v, want it to fail for lack of package scan\n%s", err, output.String())
			}
		})
	}
}

// copyContext copies the repository's build context into a new folder.
func copyContext(t *testing.T) string {
	t.Helper()
	files, err := Context(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, f := range files {
		if err := copyFile(filepath.Join(repoRoot, f), filepath.Join(root, f)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// dockerfileBuildLine is GoBuildArgs as the Dockerfile writes them.
func dockerfileBuildLine() string {
	args := GoBuildArgs("/out/")
	for i, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok && strings.Contains(v, " ") {
			args[i] = k + `="` + v + `"`
		}
	}
	return "go " + strings.Join(args, " ")
}
