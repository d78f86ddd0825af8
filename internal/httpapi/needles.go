package httpapi

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
)

// needles finds the secret parts this process was given (the bootstrap
// secrets' parts after their public "projects:environment." prefix)
// anywhere in a text, glued to other characters or not: such a part need
// not look like a generated secret (hex), so the whole-word lookups of
// scrub.go miss it when a letter or a dropped invisible character joins it
// to a word (atk-r13). It keeps no secret: per part, its length, a
// Rabin-Karp hash with a random base (to find candidates in one pass per
// length) and its SHA-256 (to confirm one, in constant time). A candidate
// window's time does not depend on how much of it matches a secret.
type needles struct {
	base  uint64
	byLen map[int][]needle
	pow   map[int]uint64 // base^(length-1), to roll the window
}

type needle struct {
	rk  uint64
	sum [sha256.Size]byte
}

// newNeedles returns the finder of parts, nil when there are none.
func newNeedles(parts []string) *needles {
	if len(parts) == 0 {
		return nil
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	n := &needles{base: binary.LittleEndian.Uint64(b[:]) | 1, byLen: map[int][]needle{}, pow: map[int]uint64{}}
	for _, p := range parts {
		if p == "" {
			continue
		}
		n.byLen[len(p)] = append(n.byLen[len(p)], needle{rk: n.hash(p), sum: sha256.Sum256([]byte(p))})
		if _, ok := n.pow[len(p)]; !ok {
			pw := uint64(1)
			for range len(p) - 1 {
				pw *= n.base
			}
			n.pow[len(p)] = pw
		}
	}
	return n
}

func (n *needles) hash(s string) uint64 {
	var h uint64
	for i := 0; i < len(s); i++ {
		h = h*n.base + uint64(s[i])
	}
	return h
}

// is reports whether v is one of the parts.
func (n *needles) is(v string) bool {
	if n == nil {
		return false
	}
	return n.match(v, n.hash(v))
}

// match confirms a window whose rolling hash is rk.
func (n *needles) match(w string, rk uint64) bool {
	var sum [sha256.Size]byte
	summed := false
	for _, c := range n.byLen[len(w)] {
		if c.rk != rk {
			continue
		}
		if !summed {
			sum, summed = sha256.Sum256([]byte(w)), true
		}
		if subtle.ConstantTimeCompare(sum[:], c.sum[:]) == 1 {
			return true
		}
	}
	return false
}

// find calls fn with the byte range of each occurrence of a part in v, in
// no particular order (occurrences may overlap).
func (n *needles) find(v string, fn func(i, j int)) {
	if n == nil {
		return
	}
	for l, pw := range n.pow {
		if l > len(v) {
			continue
		}
		rk := n.hash(v[:l])
		for i := 0; ; i++ {
			if n.match(v[i:i+l], rk) {
				fn(i, i+l)
			}
			if i+l >= len(v) {
				break
			}
			rk = (rk-uint64(v[i])*pw)*n.base + uint64(v[i+l])
		}
	}
}

// contains reports whether a part occurs in v.
func (n *needles) contains(v string) bool {
	found := false
	n.find(v, func(int, int) { found = true })
	return found
}

// cover returns v with every occurrence of a part replaced by "[secret]"
// (overlapping occurrences merged).
func (n *needles) cover(v string) string {
	if n == nil {
		return v
	}
	var hit []bool
	n.find(v, func(i, j int) {
		if hit == nil {
			hit = make([]bool, len(v))
		}
		for k := i; k < j; k++ {
			hit[k] = true
		}
	})
	if hit == nil {
		return v
	}
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); {
		if !hit[i] {
			out = append(out, v[i])
			i++
			continue
		}
		out = append(out, "[secret]"...)
		for i < len(v) && hit[i] {
			i++
		}
	}
	return string(out)
}
