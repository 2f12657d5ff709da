package imagebuild

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
)

// ignorePattern is one .dockerignore line: a path pattern, and whether it
// re-includes ("!") what earlier lines excluded.
type ignorePattern struct {
	re      *regexp.Regexp
	include bool
}

// ignoreMatcher decides what .dockerignore keeps out of the build context,
// with Docker's semantics (moby/patternmatcher, which is not in this
// module's graph): lines are cleaned paths relative to the context, "#"
// starts a comment line, "*" and "?" stay within one path element, "**"
// spans any number of them, a pattern that matches a folder matches
// everything in it, and the last matching line wins.
type ignoreMatcher struct {
	patterns []ignorePattern
	// reincludes: some line starts with "!", so an excluded folder may
	// still hold files that go in.
	reincludes bool
}

// parseIgnore reads a .dockerignore file.
func parseIgnore(r io.Reader) (*ignoreMatcher, error) {
	m := &ignoreMatcher{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := ignorePattern{}
		if rest, ok := strings.CutPrefix(line, "!"); ok {
			p.include, m.reincludes = true, true
			line = strings.TrimSpace(rest)
		}
		line = path.Clean(line)
		if len(line) > 1 {
			line = strings.TrimPrefix(line, "/")
		}
		re, err := patternRegexp(line)
		if err != nil {
			return nil, fmt.Errorf(".dockerignore line %q: %w", sc.Text(), err)
		}
		p.re = re
		m.patterns = append(m.patterns, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read .dockerignore: %w", err)
	}
	return m, nil
}

// patternRegexp translates a cleaned pattern into an anchored regexp, as
// moby/patternmatcher does.
func patternRegexp(pattern string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == '*' && i+1 < len(pattern) && pattern[i+1] == '*':
			i++
			if i+1 < len(pattern) && pattern[i+1] == '/' {
				i++ // "**/" also matches no folder at all
			}
			if i+1 == len(pattern) {
				b.WriteString(".*")
			} else {
				b.WriteString("(.*/)?")
			}
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '\\' && i+1 < len(pattern):
			i++
			b.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
		case c == '[' || c == ']' || c == '^' || c == '-':
			b.WriteByte(c) // character classes pass through
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// excluded reports whether the slash-separated path p, relative to the
// context, stays out of it: the last line that matches p or one of its
// parent folders decides.
func (m *ignoreMatcher) excluded(p string) bool {
	excluded := false
	for _, pat := range m.patterns {
		// An exclusion cannot exclude more, an inclusion not include more.
		if pat.include != excluded {
			continue
		}
		if matchesOrParent(pat.re, p) {
			excluded = !pat.include
		}
	}
	return excluded
}

// matchesOrParent reports whether re matches p or one of its folders.
func matchesOrParent(re *regexp.Regexp, p string) bool {
	if re.MatchString(p) {
		return true
	}
	for i := range len(p) {
		if p[i] == '/' && re.MatchString(p[:i]) {
			return true
		}
	}
	return false
}
