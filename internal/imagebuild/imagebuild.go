package imagebuild

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Packages are the binaries the image holds, as the Dockerfile builds them.
var Packages = []string{"./cmd/webhook", "./cmd/gateway"}

// GoBuildArgs are the Dockerfile's go build arguments, writing the binaries
// into the folder out: static (the caller sets CGO_ENABLED=0), reproducible
// (-trimpath), without symbol table and DWARF.
func GoBuildArgs(out string) []string {
	return append([]string{"build", "-trimpath", "-ldflags=-s -w", "-o", out}, Packages...)
}

// Context returns the files of the build context rooted at root, as its
// .dockerignore lets them through: slash-separated paths relative to root,
// sorted. Symbolic links and other non-regular files are left out; the
// context holds none the build needs.
func Context(root string) ([]string, error) {
	f, err := os.Open(filepath.Join(root, ".dockerignore"))
	if err != nil {
		return nil, fmt.Errorf("open .dockerignore: %w", err)
	}
	defer f.Close()
	m, err := parseIgnore(f)
	if err != nil {
		return nil, err
	}
	var files []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir() && !m.reincludes && m.excluded(rel):
			return filepath.SkipDir // nothing beneath can come back in
		case d.Type().IsRegular() && !m.excluded(rel):
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", root, err)
	}
	slices.Sort(files)
	return files, nil
}

// Stage writes into dir the files the Dockerfile's build stage sees: the
// context of root, placed as the stage's COPY instructions place them,
// with dir standing for the stage's /. It returns the folder the go build
// runs in (the stage's WORKDIR).
func Stage(root, dir string) (string, error) {
	df, err := os.Open(filepath.Join(root, "Dockerfile"))
	if err != nil {
		return "", fmt.Errorf("open Dockerfile: %w", err)
	}
	defer df.Close()
	st, err := parseBuildStage(df)
	if err != nil {
		return "", fmt.Errorf("parse the Dockerfile: %w", err)
	}
	files, err := Context(root)
	if err != nil {
		return "", err
	}
	for _, c := range st.copies {
		for _, src := range c.sources {
			if err := copySource(root, dir, files, src, c); err != nil {
				return "", err
			}
		}
	}
	return filepath.Join(dir, filepath.FromSlash(st.workdir)), nil
}

// copySource copies one COPY source out of the context: a file to the
// destination (or into it, when it is a folder), a folder's contents
// beneath the destination. A source the context lacks fails the COPY, as
// in docker build.
func copySource(root, dir string, files []string, src string, c copyStep) error {
	found := false
	for _, f := range files {
		var dst string
		switch rest, under := strings.CutPrefix(f, src+"/"); {
		case f == src && c.intoDir:
			dst = path.Join(c.dest, path.Base(f))
		case f == src:
			dst = c.dest
		case src == ".":
			dst = path.Join(c.dest, f)
		case under:
			dst = path.Join(c.dest, rest)
		default:
			continue
		}
		found = true
		if err := copyFile(filepath.Join(root, filepath.FromSlash(f)), filepath.Join(dir, filepath.FromSlash(dst))); err != nil {
			return err
		}
	}
	if !found {
		return fmt.Errorf("COPY %s %s: %q is not in the build context (.dockerignore)", src, c.dest, src)
	}
	return nil
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("create folder for %s: %w", dst, err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}

// Build stages root's build context in a temporary folder and builds the
// image's binaries into the folder out, as the Dockerfile's build stage
// does, for the host's platform. go's output goes to output.
func Build(ctx context.Context, root, out string, output io.Writer) error {
	out, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	tmp, err := os.MkdirTemp("", "rrguard-image-build-")
	if err != nil {
		return fmt.Errorf("create staging folder: %w", err)
	}
	defer os.RemoveAll(tmp)
	workdir, err := Stage(root, tmp)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", GoBuildArgs(out+string(filepath.Separator))...)
	cmd.Dir = workdir
	// Only what was staged: no workspace file above it, no go.mod edits.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=readonly")
	cmd.Stdout, cmd.Stderr = output, output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s in the staged build context: %w", strings.Join(GoBuildArgs(out), " "), err)
	}
	return nil
}
