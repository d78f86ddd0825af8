package tokenset

import (
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/tokenledger/tokenledger/events"
)

// The token set keeps its tokens in a compact form: one fixed-size,
// pointer-free record per token (rec) in chunks that never move, the
// strings unique to a token (id, name, hint) in a byte arena, and the
// values tokens repeat (types, environments, project lists, owners,
// creators, time zones) once each in tables the records index. The garbage
// collector scans none of it per token, and a token costs its record, its
// bytes in the arena and its slots in the indexes (see README, "Heap per
// live token"). A [Token] is materialised from the record on each read;
// its strings point into the arena and the tables, so reading one copies
// no bytes.
//
// One goroutine (the writer, under Set.mu) appends and changes records;
// Verify reads them without a lock. Everything a lock-free reader can
// reach is either written before the record is published (through the
// verifier index's atomic slot) and never changed, or an atomic field of
// the record, changed under the record's sequence lock (rec.seq).

// colShift sets the chunk size of a column: 1<<colShift elements.
const colShift = 10

// column is an append-only array whose elements never move: it grows by
// whole chunks, and the chunk directory is replaced atomically, so a
// reader that learned an index through a publication reads its element
// without the writer's lock. Only one goroutine appends.
type column[T any] struct {
	dir atomic.Pointer[[]*[1 << colShift]T]
	n   uint32 // elements; writer only
}

// at returns element i, which must have been added.
func (c *column[T]) at(i uint32) *T {
	d := *c.dir.Load()
	return &d[i>>colShift][i&(1<<colShift-1)]
}

// next adds a zero element and returns it and its index. The caller fills
// it in before publishing the index.
func (c *column[T]) next() (*T, uint32) {
	i := c.n
	var d []*[1 << colShift]T
	if p := c.dir.Load(); p != nil {
		d = *p
	}
	if int(i>>colShift) == len(d) {
		nd := make([]*[1 << colShift]T, len(d)+1, max(4, 2*len(d)))
		copy(nd, d)
		nd[len(d)] = new([1 << colShift]T)
		c.dir.Store(&nd)
		d = nd
	}
	c.n++
	return &d[i>>colShift][i&(1<<colShift-1)], i
}

// reset empties the column; readers must be gone.
func (c *column[T]) reset() {
	c.dir.Store(nil)
	c.n = 0
}

// add appends v and returns its index.
func (c *column[T]) add(v T) uint32 {
	p, i := c.next()
	*p = v
	return i
}

// arenaChunk is the size of an arena chunk; a longer blob gets a chunk of
// its own.
const arenaChunk = 64 << 10

// arena holds the strings unique to each token, back to back in chunks
// that hold no pointers. Bytes once written never change, so the strings
// handed out point into the chunks (they keep their chunk alive).
type arena struct {
	chunks column[[]byte]
	used   int // bytes used in the last chunk; writer only
}

// put stores the concatenation of parts and returns where: the chunk and
// the offset of its first byte, which is below arenaChunk (a blob longer
// than a chunk has one of its own, which nothing else is put into).
func (a *arena) put(parts ...string) (chunk uint32, off uint16) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if a.chunks.n == 0 || a.used+n > arenaChunk {
		a.chunks.add(make([]byte, max(arenaChunk, n)))
		a.used = 0
	}
	chunk = a.chunks.n - 1
	b := *a.chunks.at(chunk)
	off = uint16(a.used)
	for _, p := range parts {
		a.used += copy(b[a.used:], p)
	}
	return chunk, off
}

// str is the string of n bytes at off in chunk.
func (a *arena) str(chunk, off uint32, n int) string {
	if n == 0 {
		return ""
	}
	b := *a.chunks.at(chunk)
	return unsafe.String(&b[off], n)
}

// table interns values of a comparable type: each distinct value is stored
// once and named by its index. The index is read without a lock (through
// column); the map is the writer's.
type table[K comparable, V any] struct {
	idx  map[K]uint32
	vals column[V]
}

// id returns the index of key, adding it with mk(key) when new.
func (t *table[K, V]) id(key K, mk func(K) V) uint32 {
	if i, ok := t.idx[key]; ok {
		return i
	}
	if t.idx == nil {
		t.idx = map[K]uint32{}
	}
	i := t.vals.add(mk(key))
	t.idx[key] = i
	return i
}

// lookup returns the index of key, if it was added.
func (t *table[K, V]) lookup(key K) (uint32, bool) {
	i, ok := t.idx[key]
	return i, ok
}

func (t *table[K, V]) at(i uint32) V { return *t.vals.at(i) }

func (t *table[K, V]) reset() {
	t.idx = nil
	t.vals.reset()
}

// projList is an interned project list: the names as tokens hand them
// out (one shared slice) and their indexes in Set.strs.
type projList struct {
	names []string
	ids   []uint32
}

// interned is the Set's tables of shared values. Index 0 of strs is "",
// of lists the nil list, of owners no owner. over holds the times a
// record cannot keep in a word (see stamp); a slot whose time a record no
// longer holds is in overFree, and the next such time takes it.
type interned struct {
	strs   table[string, string]
	lists  table[string, projList]
	owners table[events.Owner, *events.Owner]
	actors table[events.Actor, events.Actor]
	// A slot of over is changed whole (a pointer to a time never
	// changed), so a reader that read a record's index under its
	// sequence lock and the slot before the lock's second check never
	// sees a torn time; the writer frees a slot only after the record
	// that held it was changed, so such a reader retries (see Set.token).
	over     column[atomic.Pointer[time.Time]]
	overFree []uint32 // writer only
	// listKey is list's buffer for a list's key; writer only.
	listKey []byte
}

// init empties the tables and adds the values at index 0.
func (in *interned) init() {
	in.strs.reset()
	in.lists.reset()
	in.owners.reset()
	in.actors.reset()
	in.over.reset()
	in.overFree = nil
	in.strs.id("", func(string) string { return "" })
	in.lists.id("", func(string) projList { return projList{} })
	in.owners.id(events.Owner{}, func(events.Owner) *events.Owner { return nil })
}

func (in *interned) str(s string) uint32 {
	return in.strs.id(s, strings.Clone) // never pin a larger buffer s may point into
}

// list interns a project list; nil and empty are different lists.
func (in *interned) list(ps []string) uint32 {
	if ps == nil {
		return 0
	}
	// The key is built in a buffer kept for it and looked up without a
	// string of its own: a list already interned (most events) allocates
	// nothing.
	b := strconv.AppendInt(in.listKey[:0], int64(len(ps)), 10)
	for _, p := range ps {
		b = append(b, 0)
		b = append(b, p...)
	}
	in.listKey = b
	if i, ok := in.lists.lookup(string(b)); ok {
		return i
	}
	return in.lists.id(string(b), func(string) projList {
		l := projList{names: make([]string, len(ps)), ids: make([]uint32, len(ps))}
		for i, p := range ps {
			l.ids[i] = in.str(p)
			l.names[i] = in.strs.at(l.ids[i])
		}
		return l
	})
}

func (in *interned) owner(o *events.Owner) uint32 {
	if o == nil {
		return 0
	}
	return in.owners.id(events.Owner{Kind: in.strs.at(in.str(o.Kind)), ID: in.strs.at(in.str(o.ID))},
		func(o events.Owner) *events.Owner { return &o })
}

func (in *interned) actor(a events.Actor) uint32 {
	a = events.Actor{Kind: in.strs.at(in.str(a.Kind)), ID: in.strs.at(in.str(a.ID)), Name: in.strs.at(in.str(a.Name))}
	return in.actors.id(a, func(a events.Actor) events.Actor { return a })
}

// stamp is how a record keeps a time in one word: a UTC time within the
// range of int64 nanoseconds (years 1678-2262) as its Unix nanoseconds;
// any other (a zone offset, a far year) whole in the over column, the word
// holding its index. set is false for the zero time.
func (in *interned) stamp(t time.Time) (v int64, set, over bool) {
	switch {
	case t.IsZero():
		return 0, false, false
	case t.Location() == time.UTC && !t.Before(minNano) && !t.After(maxNano):
		return t.UnixNano(), true, false
	}
	var i uint32
	if n := len(in.overFree); n > 0 {
		i, in.overFree = in.overFree[n-1], in.overFree[:n-1]
	} else {
		_, i = in.over.next()
	}
	kept := t // only an over time goes to the heap (&t would take every t there)
	in.over.at(i).Store(&kept)
	return int64(i), true, true
}

// unstamp frees the over slot of a stamp a record no longer holds (one
// that is not over holds none). The record's change must be published
// first: a reader that read the old stamp then retries.
func (in *interned) unstamp(v int64, over bool) {
	if over {
		in.overFree = append(in.overFree, uint32(v))
	}
}

// time is the time stamp made; an over time is read from its slot now
// (see interned.over for when that is safe).
func (in *interned) time(v int64, set, over bool) time.Time {
	switch {
	case !set:
		return time.Time{}
	case over:
		return *in.over.at(uint32(v)).Load()
	}
	return time.Unix(0, v).UTC()
}

// overTime is the time in an over slot, if over; nil otherwise. v and
// over may be torn (read before the sequence lock's second check): an
// index out of the column is nil too.
func (in *interned) overTime(v int64, over bool) *time.Time {
	if !over || v < 0 || v > math.MaxUint32 {
		return nil
	}
	p := in.over.dir.Load()
	if p == nil || int(v>>colShift) >= len(*p) {
		return nil
	}
	return (*p)[v>>colShift][v&(1<<colShift-1)].Load()
}

// timeOf is the time of a stamp whose over time, if any, was read as ot.
func timeOf(v int64, set bool, ot *time.Time) time.Time {
	switch {
	case !set:
		return time.Time{}
	case ot != nil:
		return *ot
	}
	return time.Unix(0, v).UTC()
}

var (
	maxNano = time.Unix(0, math.MaxInt64)
	minNano = time.Unix(0, math.MinInt64)
)

// Record flags (rec.flags).
const (
	recRevoked uint32 = 1 << iota
	recExpiredRecorded
	recAllProjects
	recOnBehalfOf
	recOrphaned
	// Which times are set, and which are in interned.over (see stamp).
	recExpSet
	recExpOver
	recRevSet
	recRevOver
	recCreSet
	recCreOver
	// The blob has a part longer than 65,535 bytes: its lengths are
	// in a header before it (see arena.put).
	recLongBlob
)

// rec is one token in 128 bytes, two cache lines. The first line is what
// Verify reads to decide (verifier, sequence lock, flags, expiry) and the
// fields an event can change, which are atomics; the others are written
// once, before the record is published. A rec holds no pointer.
type rec struct {
	verifier [32]byte
	seq      atomic.Uint32 // odd while the writer changes the record
	flags    atomic.Uint32
	exp      atomic.Int64 // ExpiresAt (see stamp)
	version  atomic.Uint64
	projects atomic.Uint32 // in interned.lists
	reason   atomic.Uint32 // in interned.strs

	rev        atomic.Int64 // RevokedAt (see stamp)
	createdSeq uint64
	cre        int64  // CreatedAt (see stamp)
	typ, env   uint32 // in interned.strs
	path       uint32 // in interned.strs
	owner      uint32 // in interned.owners
	creator    uint32 // in interned.actors
	// The newest older token of the same name and of the same owner
	// (index+1; 0 for none): ByName and ByOwner walk these chains.
	nextName, nextOwner uint32
	// id, name and hint, back to back in the arena.
	blobChunk               uint32
	blobOff                 uint16
	idLen, nameLen, hintLen uint16
}
