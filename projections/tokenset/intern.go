package tokenset

import (
	"slices"
	"strings"

	"github.com/tokenledger/tokenledger/events"
)

// maxInterned bounds each table of an interner: past it, values are kept
// unshared (correct, only larger), so a stream of distinct values cannot
// grow the tables without bound.
const maxInterned = 1 << 16

// interner shares the values that repeat across tokens: types,
// environments, paths, revocation reasons, actors' fields, project names
// and whole project lists. Decoding gives every event fresh copies; kept
// as they are, a million tokens would hold a million copies of
// "development". Strings are immutable, and a token's Projects is never
// mutated (by the Set or by callers, see Token), so sharing is safe. Only
// the goroutine applying events uses it (under Set.mu).
type interner struct {
	strs  map[string]string
	lists map[string][]string // project names joined by NUL → the shared list
}

// str returns the shared copy of s.
func (in *interner) str(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := in.strs[s]; ok {
		return v
	}
	if in.strs == nil {
		in.strs = map[string]string{}
	}
	if len(in.strs) >= maxInterned {
		return s
	}
	s = strings.Clone(s) // never pin a larger buffer s may point into
	in.strs[s] = s
	return s
}

// actor returns a with its fields shared.
func (in *interner) actor(a events.Actor) events.Actor {
	return events.Actor{Kind: in.str(a.Kind), ID: in.str(a.ID), Name: in.str(a.Name)}
}

// projects returns the shared list equal to ps (nil for nil: a token
// without an explicit list).
func (in *interner) projects(ps []string) []string {
	if ps == nil {
		return nil
	}
	key := strings.Join(ps, "\x00")
	if v, ok := in.lists[key]; ok {
		return v
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = in.str(p)
	}
	if in.lists == nil {
		in.lists = map[string][]string{}
	}
	if len(in.lists) < maxInterned {
		in.lists[strings.Clone(key)] = out
	}
	return slices.Clip(out)
}
