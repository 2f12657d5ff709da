package imagebuild

import (
	"strings"
	"testing"
)

func TestIgnoreFollowsDockerSemantics(t *testing.T) {
	tests := map[string]struct {
		dockerignore string
		excluded     []string
		kept         []string
	}{
		"a star stays within one folder": {
			dockerignore: "*/temp*",
			excluded:     []string{"somedir/temporary.txt", "somedir/temp"},
			kept:         []string{"temp.txt", "a/b/temp.txt"},
		},
		"a question mark is one character": {
			dockerignore: "temp?",
			excluded:     []string{"tempa", "tempb/inside"},
			kept:         []string{"temp", "tempab"},
		},
		"a double star spans any number of folders, none included": {
			dockerignore: "**/*_test.go",
			excluded:     []string{"x_test.go", "a/x_test.go", "a/b/c/x_test.go"},
			kept:         []string{"x.go", "a/x_test.go.orig"},
		},
		"a folder's pattern covers everything in it": {
			dockerignore: "bin/\n**/testdata/",
			excluded:     []string{"bin/k8s/etcd", "a/testdata/x.json", "testdata/y"},
			kept:         []string{"binary", "a/testdatas/x"},
		},
		"a leading slash is the context's root": {
			dockerignore: "/tools",
			excluded:     []string{"tools/x/go.mod"},
			kept:         []string{"a/tools/go.mod"},
		},
		"the last matching line wins": {
			dockerignore: "*.md\n!README*.md\nREADME-secret.md",
			excluded:     []string{"CHANGES.md", "README-secret.md"},
			kept:         []string{"README.md", "README-x.md", "a/CHANGES.md"},
		},
		"everything out, folders back in": {
			dockerignore: "# sources only\n*\n!go.mod\n!api/\n",
			excluded:     []string{"Makefile", "scan/scan.go", "bin/x"},
			kept:         []string{"go.mod", "api/v1/types.go"},
		},
		"an empty file keeps everything": {
			kept: []string{"a", "b/c"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := parseIgnore(strings.NewReader(tc.dockerignore))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range tc.excluded {
				if !m.excluded(p) {
					t.Errorf("%q kept, want excluded", p)
				}
			}
			for _, p := range tc.kept {
				if m.excluded(p) {
					t.Errorf("%q excluded, want kept", p)
				}
			}
		})
	}
}

func TestParseBuildStage(t *testing.T) {
	tests := map[string]struct {
		dockerfile string
		want       buildStage
		wantErr    string
	}{
		"the first stage's COPYs relative to its WORKDIR": {
			dockerfile: "# syntax=docker/dockerfile:1\nFROM golang AS build\nWORKDIR /src\nCOPY go.mod go.sum ./\n" +
				"RUN --mount=type=cache,target=/go/pkg/mod \\\n    go mod download\nCOPY --link . .\nCOPY cmd/x.go /x/y.go\n" +
				"FROM scratch\nCOPY --from=build /out/webhook /\n",
			want: buildStage{workdir: "/src", copies: []copyStep{
				{sources: []string{"go.mod", "go.sum"}, dest: "/src", intoDir: true},
				{sources: []string{"."}, dest: "/src"},
				{sources: []string{"cmd/x.go"}, dest: "/x/y.go"},
			}},
		},
		"a COPY from another stage in the build stage is refused": {
			dockerfile: "FROM golang\nCOPY --from=other /a /b\n", wantErr: "--from",
		},
		"a wildcard is refused rather than guessed": {
			dockerfile: "FROM golang\nCOPY *.go /src/\n", wantErr: "wildcards",
		},
		"no FROM is refused": {dockerfile: "COPY . .\n", wantErr: "no FROM"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseBuildStage(strings.NewReader(tc.dockerfile))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.workdir != tc.want.workdir || len(got.copies) != len(tc.want.copies) {
				t.Fatalf("stage = %+v, want %+v", got, tc.want)
			}
			for i := range got.copies {
				g, w := got.copies[i], tc.want.copies[i]
				if strings.Join(g.sources, " ") != strings.Join(w.sources, " ") || g.dest != w.dest || g.intoDir != w.intoDir {
					t.Errorf("copy %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}
