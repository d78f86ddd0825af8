package tokenset

import (
	"crypto/subtle"
	"encoding/binary"
	"math"
	"sync/atomic"
	"time"
)

// vindex maps verifiers to tokens for the verification hot path. Readers
// take no lock: a sync.RWMutex costs two atomic read-modify-writes per
// verification, which on amd64 are full barriers that serialise the map's
// cache misses and made Verify ~25% slower than the hash-plus-probe floor.
//
// It is an open-addressing table with linear probing. A verifier is a
// SHA-256 output, uniformly distributed, so its first 8 bytes are the hash:
// no seed, no rehashing. (A client can pick secrets whose verifiers land on
// a chosen slot, but clusters are made only of stored tokens, which it does
// not choose, and at half load they stay short.) Entries are never removed (revoked tokens stay
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

// vslot is one table slot: one cache line holding the full verifier and
// what the status depends on, so Verify decides without touching the token
// (the token is only returned). A slot is empty while tok is nil. verifier
// is written once, before tok is first stored, and never changes; readers
// load tok first, which orders their read of verifier after the write.
//
// exp and flags mirror the published token's ExpiresAt, Revoked and
// ExpiredRecorded. put updates them before tok, so a reader racing an
// update sees the new status with the old token at worst: a revocation is
// never seen late.
type vslot struct {
	verifier [32]byte
	tok      atomic.Pointer[Token]
	exp      atomic.Int64  // ExpiresAt in Unix nanoseconds, saturated; MaxInt64 = never
	flags    atomic.Uint32 // flagRevoked | flagExpiredRecorded
	_        [12]byte      // pad to 64 bytes: one slot, one cache line
}

const (
	flagRevoked uint32 = 1 << iota
	flagExpiredRecorded
)

const vindexMinSlots = 1024

func tagOf(v *[32]byte) uint64 { return binary.LittleEndian.Uint64(v[:8]) }

// unixNano is t in Unix nanoseconds, saturated to the int64 range (years
// 1678–2262) instead of overflowing.
func unixNano(t time.Time) int64 {
	switch {
	case t.After(maxNano):
		return math.MaxInt64
	case t.Before(minNano):
		return math.MinInt64
	}
	return t.UnixNano()
}

// expiryNano is the slot's expiry: "never" is the largest time, so the
// expiry alone decides and no flag can disagree with it mid-update.
func expiryNano(t time.Time) int64 {
	if t.IsZero() {
		return math.MaxInt64
	}
	return unixNano(t)
}

var (
	maxNano = time.Unix(0, math.MaxInt64)
	minNano = time.Unix(0, math.MinInt64)
)

func statusFlags(t *Token) uint32 {
	var f uint32
	if t.Revoked || t.Orphaned {
		f |= flagRevoked
	}
	if t.ExpiredRecorded {
		f |= flagExpiredRecorded
	}
	return f
}

// find returns the slot holding verifier v, or nil. The comparison of the
// whole verifier is constant-time.
func (x *vindex) find(v *[32]byte) (*vslot, *Token) {
	tab := x.tab.Load()
	if tab == nil {
		return nil, nil
	}
	tag := tagOf(v)
	for i := tag & tab.mask; ; i = (i + 1) & tab.mask {
		s := &tab.slots[i]
		t := s.tok.Load()
		if t == nil {
			return nil, nil
		}
		if tagOf(&s.verifier) == tag && subtle.ConstantTimeCompare(s.verifier[:], v[:]) == 1 {
			return s, t
		}
	}
}

// get returns the token with verifier v, or nil.
func (x *vindex) get(v *[32]byte) *Token {
	_, t := x.find(v)
	return t
}

// verify returns the token with verifier v and its status at now (Unix
// nanoseconds), reading the status from the slot.
func (x *vindex) verify(v *[32]byte, now int64) (*Token, Status) {
	s, t := x.find(v)
	if s == nil {
		return nil, Unknown
	}
	f := s.flags.Load()
	switch {
	case f&flagRevoked != 0:
		return t, Revoked
	case f&flagExpiredRecorded != 0, now >= s.exp.Load():
		return t, Expired
	}
	return t, Valid
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
		if cur != nil && s.verifier != t.verifier {
			continue
		}
		if cur == nil {
			s.verifier = t.verifier
		}
		s.exp.Store(expiryNano(t.ExpiresAt))
		s.flags.Store(statusFlags(t))
		s.tok.Store(t)
		return cur == nil
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
