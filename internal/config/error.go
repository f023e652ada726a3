package config

import (
	"fmt"
	"strings"
)

// Error is a mistake in the configuration the user gave: the file, an
// environment variable or a --set flag. Load and Validate return only
// *Error values (joined with errors.Join when there are several) for such
// mistakes, so the CLI can recognise them with errors.As and exit with a
// usage code.
type Error struct {
	// Key is the dotted config key the problem is about, such as
	// "postgres.port"; empty when there is no such key (an unknown key,
	// malformed YAML, a missing file).
	Key string
	// Source says where the bad value came from: "file:line" (or just the
	// file), "env PGSURREAL_X", "--set", or empty for a value that kept its
	// default or was set in code.
	Source string
	// Msg says what is wrong and, where it can, how to fix it.
	Msg string
	// Err is the underlying error, if any.
	Err error
}

// Error renders the problem as "where: what". Where is the file:line and
// key, the environment variable (which already names the key), or
// "--set key".
func (e *Error) Error() string {
	var where string
	switch {
	case strings.HasPrefix(e.Source, "env "):
		where = strings.TrimPrefix(e.Source, "env ")
	case e.Source == "--set":
		where = joinNonEmpty(" ", e.Source, e.Key)
	default:
		where = joinNonEmpty(": ", e.Source, e.Key)
	}
	return joinNonEmpty(": ", where, e.Msg)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// fileSource renders a position in a file the way compilers do.
func fileSource(path string, line int) string {
	return fmt.Sprintf("%s:%d", path, line)
}

// envSource is the Source of a value read from the variable name.
func envSource(name string) string { return "env " + name }

// setSource is the Source of a value given with --set.
const setSource = "--set"

// suggest returns the candidate closest to s if it is close enough to be a
// likely typo, else "".
func suggest(s string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	if bestDist < 0 || bestDist > maxTypo(s) {
		return ""
	}
	return best
}

// maxTypo is how many edits still look like a typo of a word of s's length.
func maxTypo(s string) int {
	switch n := len(s); {
	case n <= 3:
		return 1
	case n <= 12:
		return 2
	default:
		return n / 6
	}
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of neighbours each cost one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
