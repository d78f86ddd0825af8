package tokenset

import (
	"crypto/subtle"
	"encoding/binary"
	"sync/atomic"
)

// vindex maps verifiers to tokens for the verification hot path. Readers
// take no lock: a sync.RWMutex costs two atomic read-modify-writes per
// verification, which on amd64 are full barriers that serialise the map's
// cache misses and made Verify ~25% slower than the hash-plus-probe floor.
//
// It is an open-addressing table with linear probing. A verifier is a
// SHA-256 output, uniformly distributed, so its first 8 bytes are the hash:
// no seed, no rehashing. Entries are never removed (revoked tokens stay
// verifiable as Revoked), so there are no tombstones. The table is kept at
// most half full and grows by building a doubled copy and swapping it in.
//
// Tokens stored here are immutable once published: a change to a token is
// published as a new *Token. Only one goroutine (the Set's writer, under
// Set.mu) calls put; any number call get concurrently.
type vindex struct {
	tab atomic.Pointer[vtable]
	n   int // occupied slots; writer only
}

type vtable struct {
	slots []vslot
	mask  uint64
}

// vslot is one table slot. tag is the verifier's first 8 bytes; it is
// compared before the token is dereferenced, so probing past other keys
// costs no cache miss. A slot is empty while tok is nil; once set, its tag
// never changes.
type vslot struct {
	tag atomic.Uint64
	tok atomic.Pointer[Token]
}

const vindexMinSlots = 1024

func tagOf(v *[32]byte) uint64 { return binary.LittleEndian.Uint64(v[:8]) }

// get returns the token with verifier v, or nil. The final comparison of
// the whole verifier is constant-time.
func (x *vindex) get(v *[32]byte) *Token {
	tab := x.tab.Load()
	if tab == nil {
		return nil
	}
	tag := tagOf(v)
	for i := tag & tab.mask; ; i = (i + 1) & tab.mask {
		s := &tab.slots[i]
		t := s.tok.Load()
		if t == nil {
			return nil
		}
		// A slot being filled may show its token before its tag; it is
		// then skipped, as if the insert had not happened yet.
		if s.tag.Load() == tag && subtle.ConstantTimeCompare(t.verifier[:], v[:]) == 1 {
			return t
		}
	}
}

// put publishes t under its verifier, replacing the token there if any.
func (x *vindex) put(t *Token) {
	tab := x.tab.Load()
	if tab == nil || 2*(x.n+1) > len(tab.slots) {
		tab = x.grow(tab)
	}
	if x.insert(tab, t) {
		x.n++
	}
}

// insert stores t in tab and reports whether it took an empty slot.
func (x *vindex) insert(tab *vtable, t *Token) bool {
	tag := tagOf(&t.verifier)
	for i := tag & tab.mask; ; i = (i + 1) & tab.mask {
		s := &tab.slots[i]
		cur := s.tok.Load()
		if cur == nil {
			s.tok.Store(t)
			s.tag.Store(tag)
			return true
		}
		if cur.verifier == t.verifier {
			s.tok.Store(t)
			return false
		}
	}
}

// grow swaps in a table of twice the size (or the minimum) holding every
// token of old. Readers still probing old find what they would have found
// before the swap.
func (x *vindex) grow(old *vtable) *vtable {
	size := vindexMinSlots
	if old != nil {
		size = 2 * len(old.slots)
	}
	tab := &vtable{slots: make([]vslot, size), mask: uint64(size - 1)}
	if old != nil {
		for i := range old.slots {
			if t := old.slots[i].tok.Load(); t != nil {
				x.insert(tab, t)
			}
		}
	}
	x.tab.Store(tab)
	return tab
}
