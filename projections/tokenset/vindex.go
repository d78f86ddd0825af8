package tokenset

import (
	"crypto/subtle"
	"encoding/binary"
	"sync/atomic"
)

// vindex maps verifiers to token records for the verification hot path.
// Readers take no lock: a sync.RWMutex costs two atomic read-modify-writes
// per verification, which on amd64 are full barriers that serialise the
// cache misses.
//
// It is an open-addressing table with linear probing of 8-byte slots: the
// record's index (plus one; 0 is empty) and 32 more bits of its verifier,
// so that a probe past another token's slot rarely reads that token's
// record. A verifier is a SHA-256 output, uniformly distributed, so its
// first 8 bytes are the hash: no seed, no rehashing. (A client can pick
// secrets whose verifiers land on a chosen slot, but clusters are made
// only of stored tokens, which it does not choose, and at half load they
// stay short.) Entries are never removed (revoked tokens stay verifiable
// as Revoked), so there are no tombstones. The table is kept at most half
// full and grows by building a doubled copy and swapping it in.
//
// Only one goroutine (the Set's writer, under Set.mu) calls put; any
// number call find concurrently.
type vindex struct {
	tab atomic.Pointer[vtable]
	n   int // occupied slots; writer only
}

type vtable struct {
	slots []atomic.Uint64 // tag<<32 | index+1
	mask  uint64
}

const vindexMinSlots = 1024

func hashOf(v *[32]byte) uint64 { return binary.LittleEndian.Uint64(v[:8]) }
func tagOf(v *[32]byte) uint32  { return binary.LittleEndian.Uint32(v[8:12]) }

// find returns the index of the record with verifier v. The comparison of
// the whole verifier is constant-time.
func (x *vindex) find(recs *column[rec], v *[32]byte) (uint32, bool) {
	tab := x.tab.Load()
	if tab == nil {
		return 0, false
	}
	tag := tagOf(v)
	for i := hashOf(v) & tab.mask; ; i = (i + 1) & tab.mask {
		e := tab.slots[i].Load()
		if e == 0 {
			return 0, false
		}
		if uint32(e>>32) != tag {
			continue
		}
		idx := uint32(e) - 1
		if subtle.ConstantTimeCompare(recs.at(idx).verifier[:], v[:]) == 1 {
			return idx, true
		}
	}
}

// put makes v verify to record idx, replacing the record there if any (a
// newer token created with the same secret takes it over).
func (x *vindex) put(recs *column[rec], v *[32]byte, idx uint32) {
	tab := x.tab.Load()
	if tab == nil || 2*(x.n+1) > len(tab.slots) {
		tab = x.grow(recs, tab, 0)
	}
	if insert(recs, tab, v, idx) {
		x.n++
	}
}

// insert stores idx under v in tab and reports whether it took an empty
// slot.
func insert(recs *column[rec], tab *vtable, v *[32]byte, idx uint32) bool {
	e := uint64(tagOf(v))<<32 | uint64(idx+1)
	for i := hashOf(v) & tab.mask; ; i = (i + 1) & tab.mask {
		cur := tab.slots[i].Load()
		if cur == 0 {
			tab.slots[i].Store(e)
			return true
		}
		if cur>>32 == e>>32 && recs.at(uint32(cur)-1).verifier == *v {
			tab.slots[i].Store(e)
			return false
		}
	}
}

// grow swaps in a table of twice the size (or the minimum, or room for n
// entries at half load) holding every entry of old. Readers still probing
// old find what they would have found before the swap.
func (x *vindex) grow(recs *column[rec], old *vtable, n int) *vtable {
	size := vindexMinSlots
	if old != nil {
		size = 2 * len(old.slots)
	}
	for size < 2*(n+1) {
		size *= 2
	}
	tab := &vtable{slots: make([]atomic.Uint64, size), mask: uint64(size - 1)}
	if old != nil {
		for i := range old.slots {
			if e := old.slots[i].Load(); e != 0 {
				insert(recs, tab, &recs.at(uint32(e)-1).verifier, uint32(e)-1)
			}
		}
	}
	x.tab.Store(tab)
	return tab
}

// reserve makes an empty index a table with room for n verifiers at the
// load put keeps (the size a replay of n creations ends with).
func (x *vindex) reserve(recs *column[rec], n int) {
	if x.tab.Load() == nil {
		x.grow(recs, nil, n)
	}
}

// hindex is an open-addressing set of record indexes (plus one) keyed by
// a hash of some field of the record, for the management lookups (by id,
// by name). It holds 4 bytes a slot at most half full, and is read and
// written under Set.mu.
type hindex struct {
	slots []uint32
	n     int
}

// find returns the index of the record whose key hashes to h and for
// which eq holds.
func (x *hindex) find(h uint64, eq func(uint32) bool) (uint32, bool) {
	if len(x.slots) == 0 {
		return 0, false
	}
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := x.slots[i]
		if e == 0 {
			return 0, false
		}
		if eq(e - 1) {
			return e - 1, true
		}
	}
}

// set stores idx for its key (hash h, equal keys by eq), replacing the
// record of an equal key; hash rehashes a stored record when the table
// grows.
func (x *hindex) set(h uint64, idx uint32, eq func(uint32) bool, hash func(uint32) uint64) {
	if 2*(x.n+1) > len(x.slots) {
		x.resize(max(vindexMinSlots, 2*len(x.slots)), hash)
	}
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := x.slots[i]
		if e == 0 {
			x.slots[i] = idx + 1
			x.n++
			return
		}
		if eq(e - 1) {
			x.slots[i] = idx + 1
			return
		}
	}
}

func (x *hindex) resize(size int, hash func(uint32) uint64) {
	old := x.slots
	x.slots = make([]uint32, size)
	mask := uint64(size - 1)
	for _, e := range old {
		if e == 0 {
			continue
		}
		i := hash(e-1) & mask
		for x.slots[i] != 0 {
			i = (i + 1) & mask
		}
		x.slots[i] = e
	}
}

// reserve sizes an empty index for n keys.
func (x *hindex) reserve(n int, hash func(uint32) uint64) {
	size := vindexMinSlots
	for size < 2*(n+1) {
		size *= 2
	}
	if size > len(x.slots) {
		x.resize(size, hash)
	}
}
