package imagebuild

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strings"
)

// copyStep is one COPY of the build stage: context paths into a
// destination in the stage's file system.
type copyStep struct {
	sources []string
	dest    string
	// intoDir: dest is a folder (it ends in "/", or there are several
	// sources), so a file source keeps its name in it.
	intoDir bool
}

// buildStage is what the Dockerfile's first stage takes from the context:
// its COPY instructions, and the WORKDIR the go build runs in.
type buildStage struct {
	copies  []copyStep
	workdir string
}

// parseBuildStage reads the Dockerfile's first stage (up to the second
// FROM). Only WORKDIR and COPY change which files the build sees; the
// rest (ARG, RUN, ...) is the go build this package runs itself. A COPY
// this package cannot reproduce (--from, a wildcard, JSON form) is an
// error rather than a silently different build.
func parseBuildStage(r io.Reader) (buildStage, error) {
	st := buildStage{workdir: "/"}
	froms := 0
	for _, line := range instructions(r) {
		fields := strings.Fields(line)
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			if froms++; froms > 1 {
				return st, nil
			}
		case "WORKDIR":
			if len(fields) != 2 {
				return st, fmt.Errorf("WORKDIR %q: want one path", line)
			}
			st.workdir = resolve(st.workdir, fields[1])
		case "COPY":
			step, err := parseCopy(fields[1:], st.workdir)
			if err != nil {
				return st, fmt.Errorf("%s: %w", line, err)
			}
			st.copies = append(st.copies, step)
		}
	}
	if froms == 0 {
		return st, fmt.Errorf("no FROM in the Dockerfile")
	}
	return st, nil
}

// parseCopy reads COPY's arguments: sources relative to the context, and a
// destination relative to workdir.
func parseCopy(args []string, workdir string) (copyStep, error) {
	for len(args) > 0 && strings.HasPrefix(args[0], "--") {
		if strings.HasPrefix(args[0], "--from") {
			return copyStep{}, fmt.Errorf("COPY --from copies from another stage, not the context")
		}
		args = args[1:] // --chown, --chmod, --link: same files
	}
	if len(args) < 2 {
		return copyStep{}, fmt.Errorf("want sources and a destination")
	}
	dest := args[len(args)-1]
	step := copyStep{dest: resolve(workdir, dest), intoDir: strings.HasSuffix(dest, "/") || len(args) > 2}
	for _, src := range args[:len(args)-1] {
		if strings.ContainsAny(src, "*?[\"") {
			return copyStep{}, fmt.Errorf("source %q: wildcards and JSON form are not reproduced", src)
		}
		step.sources = append(step.sources, path.Clean(strings.TrimPrefix(src, "/")))
	}
	return step, nil
}

// instructions returns the Dockerfile's instructions, continuation lines
// joined, comments and parser directives dropped.
func instructions(r io.Reader) []string {
	var out []string
	var cur strings.Builder
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if body, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		out = append(out, cur.String())
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// resolve returns p as an absolute path, relative ones taken from dir.
func resolve(dir, p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	return path.Join(dir, p)
}
