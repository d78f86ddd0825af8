package projections

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/tokenledger/tokenledger/events"
)

// Chains is the per-aggregate hash chain check every event passes before
// a projection applies it (set [Runner.Chains]): an event's Prev must be
// the Hash of its aggregate's last event ("" for its first). An event
// that does not follow its aggregate's last event is refused with an
// [events.TamperError] of kind [events.TamperChain]: a genuine, signed
// event published again (its Prev names an event that already has a
// successor, or "" for an aggregate that has events), an inserted second
// successor, or an event whose predecessor was removed.
//
// Chains keeps, per aggregate ever seen, only the first 8 bytes of its
// last event's hash. A copy of a genuine earlier event passes only if its
// Prev matches the aggregate's current last hash in those 8 bytes, which
// a genuine earlier event's Prev never does but with probability 2^-64
// (the hashes of one chain differ, and the attacker chooses none of
// them). Aggregate ids in the ledger's forms (a canonical UUID, 32
// lower-case hex digits) are kept as 16 bytes; others as strings.
//
// Chains is a [Projection] (Apply, LastApplied, idempotent by sequence),
// so a Runner resumes it like the others, and its state is a snapshot:
// [Chains.MarshalBinary] at the Runner's applied sequence, restored with
// [Chains.UnmarshalBinary]. It is safe for concurrent use.
type Chains struct {
	mu    sync.Mutex
	last  uint64
	kinds map[string]*kindChains
}

// kindChains is the last hash prefix of each aggregate of one kind, by
// the form of its id.
type kindChains struct {
	uuid  map[[16]byte]uint64 // canonical UUID ids (tokens, users, audit reads, …)
	hex   map[[16]byte]uint64 // 32 lower-case hex digits (names)
	other map[string]uint64
}

// NewChains returns an empty Chains: no aggregate has events.
func NewChains() *Chains { return &Chains{kinds: map[string]*kindChains{}} }

// LastApplied is the sequence of the last event Apply checked.
func (c *Chains) LastApplied() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// Len is the number of aggregates Chains knows.
func (c *Chains) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, k := range c.kinds {
		n += len(k.uuid) + len(k.hex) + len(k.other)
	}
	return n
}

// Apply checks that env follows its aggregate's last event and makes it
// the last. An event at or below LastApplied is ignored. A refused event
// changes nothing and returns an [events.TamperError] naming its sequence.
func (c *Chains) Apply(env events.Envelope) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if env.Sequence <= c.last {
		return nil
	}
	k := c.kinds[env.AggregateKind]
	var cur uint64
	had := false
	if k != nil {
		cur, had = k.get(env.AggregateID)
	}
	prev, prevOK := hashPrefix(env.Prev)
	switch {
	case env.Prev == "" && !had:
	case had && prevOK && prev == cur:
	default:
		return &events.TamperError{Seq: env.Sequence, Kind: events.TamperChain, Err: chainBreak(&env, had)}
	}
	if k == nil {
		k = &kindChains{}
		c.kinds[env.AggregateKind] = k
	}
	h, _ := hashPrefix(env.Hash)
	k.set(env.AggregateID, h)
	c.last = env.Sequence
	return nil
}

// chainBreak says how env fails to follow its aggregate's last event.
func chainBreak(env *events.Envelope, had bool) error {
	switch {
	case !had:
		return fmt.Errorf("projections: the %s event %s names a predecessor, but %s %s has no event before it",
			env.Type, env.ID, env.AggregateKind, env.AggregateID)
	case env.Prev == "":
		return fmt.Errorf("projections: the %s event %s starts the chain of %s %s a second time (a copy of its first event, or an insertion)",
			env.Type, env.ID, env.AggregateKind, env.AggregateID)
	default:
		return fmt.Errorf("projections: the %s event %s does not follow the last event of %s %s (a copy of an earlier event, a second successor, or its predecessor was removed)",
			env.Type, env.ID, env.AggregateKind, env.AggregateID)
	}
}

// hashPrefix is the first 8 bytes of a hex hash, and whether it has them.
func hashPrefix(h string) (uint64, bool) {
	if len(h) < 16 {
		return 0, false
	}
	var v uint64
	for i := range 16 {
		d, ok := hexDigit(h[i])
		if !ok {
			return 0, false
		}
		v = v<<4 | uint64(d)
	}
	return v, true
}

// hexDigit is the value of a lower-case hex digit (as events hashes are
// written).
func hexDigit(b byte) (byte, bool) {
	switch {
	case '0' <= b && b <= '9':
		return b - '0', true
	case 'a' <= b && b <= 'f':
		return b - 'a' + 10, true
	}
	return 0, false
}

// Id forms.
const (
	formOther = iota
	formUUID
	formHex
)

// compactID is id as 16 bytes when it is a canonical UUID (lower-case,
// 8-4-4-4-12) or 32 lower-case hex digits: both are reversible, so one
// id has one key.
func compactID(id string) ([16]byte, int) {
	var b [16]byte
	switch len(id) {
	case 36:
		if id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
			return b, formOther
		}
		j := 0
		for i := 0; i < 36; i += 2 {
			if i == 8 || i == 13 || i == 18 || i == 23 {
				i--
				continue
			}
			hi, ok1 := hexDigit(id[i])
			lo, ok2 := hexDigit(id[i+1])
			if !ok1 || !ok2 {
				return b, formOther
			}
			b[j] = hi<<4 | lo
			j++
		}
		return b, formUUID
	case 32:
		for j := range 16 {
			hi, ok1 := hexDigit(id[2*j])
			lo, ok2 := hexDigit(id[2*j+1])
			if !ok1 || !ok2 {
				return b, formOther
			}
			b[j] = hi<<4 | lo
		}
		return b, formHex
	}
	return b, formOther
}

func (k *kindChains) get(id string) (uint64, bool) {
	var v uint64
	var ok bool
	switch b, form := compactID(id); form {
	case formUUID:
		v, ok = k.uuid[b]
	case formHex:
		v, ok = k.hex[b]
	default:
		v, ok = k.other[id]
	}
	return v, ok
}

func (k *kindChains) set(id string, h uint64) {
	switch b, form := compactID(id); form {
	case formUUID:
		if k.uuid == nil {
			k.uuid = map[[16]byte]uint64{}
		}
		k.uuid[b] = h
	case formHex:
		if k.hex == nil {
			k.hex = map[[16]byte]uint64{}
		}
		k.hex[b] = h
	default:
		if k.other == nil {
			k.other = map[string]uint64{}
		}
		k.other[string([]byte(id))] = h // a copy: id may share the decoded record's memory
	}
}

// chainsVersion names the encoding of MarshalBinary.
const chainsVersion = 1

// MarshalBinary encodes the state at [Chains.LastApplied]: the version,
// the sequence, then per kind (in order) its aggregates (in order of
// their id) with their last hash prefix. The same state encodes to the
// same bytes. The encoding is not authenticated: whoever stores it must
// be (a snapshot file is checked and MAC'd by its writer).
func (c *Chains) MarshalBinary() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := binary.AppendUvarint(nil, chainsVersion)
	b = binary.AppendUvarint(b, c.last)
	kinds := make([]string, 0, len(c.kinds))
	for kind := range c.kinds {
		kinds = append(kinds, kind)
	}
	slices.Sort(kinds)
	b = binary.AppendUvarint(b, uint64(len(kinds)))
	for _, kind := range kinds {
		k := c.kinds[kind]
		b = appendString(b, kind)
		for _, m := range []map[[16]byte]uint64{k.uuid, k.hex} {
			ids := make([][16]byte, 0, len(m))
			for id := range m {
				ids = append(ids, id)
			}
			slices.SortFunc(ids, func(x, y [16]byte) int { return cmp.Compare(string(x[:]), string(y[:])) })
			b = binary.AppendUvarint(b, uint64(len(ids)))
			for _, id := range ids {
				b = append(b, id[:]...)
				b = binary.BigEndian.AppendUint64(b, m[id])
			}
		}
		ids := make([]string, 0, len(k.other))
		for id := range k.other {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		b = binary.AppendUvarint(b, uint64(len(ids)))
		for _, id := range ids {
			b = appendString(b, id)
			b = binary.BigEndian.AppendUint64(b, k.other[id])
		}
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// errChainsEncoding is returned (wrapped) by UnmarshalBinary for bytes
// MarshalBinary did not write.
var errChainsEncoding = errors.New("projections: not a chains snapshot")

// UnmarshalBinary replaces the state with one MarshalBinary encoded. On
// an error the state is unchanged.
func (c *Chains) UnmarshalBinary(data []byte) error {
	r := chainsReader{b: data}
	if v := r.uint(); v != chainsVersion {
		return fmt.Errorf("%w: version %d", errChainsEncoding, v)
	}
	last := r.uint()
	kinds := map[string]*kindChains{}
	nk := r.count(1)
	for range nk {
		kind := r.str()
		k := &kindChains{}
		for _, m := range []*map[[16]byte]uint64{&k.uuid, &k.hex} {
			n := r.count(24)
			if n > 0 {
				*m = make(map[[16]byte]uint64, n)
			}
			for range n {
				var id [16]byte
				copy(id[:], r.bytes(16))
				(*m)[id] = r.u64()
			}
		}
		n := r.count(9)
		if n > 0 {
			k.other = make(map[string]uint64, n)
		}
		for range n {
			id := r.str()
			k.other[id] = r.u64()
		}
		kinds[kind] = k
	}
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d bytes after the end", errChainsEncoding, len(r.b))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last, c.kinds = last, kinds
	return nil
}

// chainsReader reads MarshalBinary's encoding; the first error sticks and
// every later read returns zero values.
type chainsReader struct {
	b   []byte
	err error
}

func (r *chainsReader) fail() {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated or malformed", errChainsEncoding)
	}
	r.b = nil
}

func (r *chainsReader) uint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a count of items of at least min bytes each, refusing one
// the remaining bytes cannot hold (no allocation from a forged count).
func (r *chainsReader) count(min int) int {
	n := r.uint()
	if n > uint64(len(r.b)/min) {
		r.fail()
		return 0
	}
	return int(n)
}

func (r *chainsReader) bytes(n int) []byte {
	if len(r.b) < n {
		r.fail()
		return make([]byte, n)
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *chainsReader) u64() uint64 { return binary.BigEndian.Uint64(r.bytes(8)) }

func (r *chainsReader) str() string { return string(r.bytes(r.count(1))) }
