package integrity

// The aggregates' prev/hash chains, as a Verifier follows them.

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// chain is what the chain check remembers of an aggregate: its last two
// events (enough to name a forged second successor of the last but one),
// by their hashes (a record reaches the chain check only once its Hash
// member is proven the lower-case hex of its canonical bytes' SHA-256, so
// the 32 bytes stand for it exactly) and sequences (0: none).
type chain struct {
	last, prev       [sha256.Size]byte
	lastSeq, prevSeq uint64
}

// shortKey holds an aggregate's key (its length first) when it is short,
// as aggregates' are (a kind and a UUID): a map keyed by it compares keys
// in place, without following a string to its bytes.
type shortKey [56]byte

// names reports whether prev, an event's prev member, names the hash h of
// the event at seq (0: no event, named by an empty prev).
func names(prev []byte, h *[sha256.Size]byte, seq uint64) bool {
	if seq == 0 {
		return len(prev) == 0
	}
	if len(prev) != 2*sha256.Size {
		return false
	}
	var x [2 * sha256.Size]byte
	hex.Encode(x[:], h[:])
	return string(x[:]) == string(prev)
}

// brokenLink is an event whose predecessor was not (yet) seen, by the
// first 8 bytes of the predecessor's hash (a collision can only change
// which kind is named, never hide one): seq is the
// event, pred the sequence of its aggregate's last event before it (0 if
// none). If the predecessor turns up later, the events were reordered;
// if the record count is right, pred was edited and re-sealed; else the
// predecessor was deleted.
type brokenLink struct{ seq, pred uint64 }

func prefix(hexHash []byte) uint64 {
	var b [8]byte
	if len(hexHash) >= 16 {
		_, _ = hex.Decode(b[:], hexHash[:16])
	}
	return binary.BigEndian.Uint64(b[:])
}

// link checks env's place in its aggregate's chain; sum is its hash.
func (v *Verifier) link(seq uint64, env *record, sum *[sha256.Size]byte) *Finding {
	// The aggregate's key: the kind's length, the kind, the id.
	v.key = binary.AppendUvarint(v.key[:0], uint64(len(env.Kind)))
	v.key = append(append(v.key, env.Kind...), env.Aggregate...)
	var short shortKey
	isShort := len(v.key) < len(short)
	var idx int32
	var had bool
	if isShort {
		short[0] = byte(len(v.key)) // keys of different lengths differ
		copy(short[1:], v.key)
		idx, had = v.chains[short]
	} else {
		idx, had = v.long[string(v.key)]
	}
	var c chain
	if had {
		c = v.links[idx]
	}
	v.hashes = append(v.hashes, prefix(env.Hash))
	if len(v.pending) > 0 {
		hp := prefix(env.Hash)
		if p, ok := v.pending[hp]; ok {
			delete(v.pending, hp)
			return &Finding{Seq: p.seq, Kind: KindReorder, Detail: fmt.Sprintf("the event at sequence %d follows the event at sequence %d in the chain of %s %s, which comes after it",
				p.seq, seq, env.Kind, env.Aggregate)}
		}
	}
	switch {
	case names(env.Prev, &c.last, c.lastSeq):
	case len(env.Prev) == 0:
		return &Finding{Seq: seq, Kind: KindInsertion, Detail: fmt.Sprintf("%s event %s starts the chain of %s %s a second time",
			env.Type, env.ID, env.Kind, env.Aggregate)}
	case had && names(env.Hash, &c.last, c.lastSeq):
		// A genuine event repeated: the copy is the insertion, not the
		// honest event it repeats.
		return &Finding{Seq: seq, Kind: KindInsertion, Detail: fmt.Sprintf("%s event %s repeats the event at sequence %d, the last of %s %s",
			env.Type, env.ID, c.lastSeq, env.Kind, env.Aggregate)}
	case had && c.prevSeq != 0 && names(env.Prev, &c.prev, c.prevSeq):
		return &Finding{Seq: c.lastSeq, Kind: KindInsertion, Detail: fmt.Sprintf("the events at sequences %d and %d both follow the event at sequence %d in the chain of %s %s",
			c.lastSeq, seq, c.prevSeq, env.Kind, env.Aggregate)}
	default:
		pp := prefix(env.Prev)
		if _, ok := v.pending[pp]; !ok {
			v.pending[pp] = brokenLink{seq: seq, pred: c.lastSeq}
		}
	}
	c = chain{last: *sum, lastSeq: seq, prev: c.last, prevSeq: c.lastSeq}
	if had {
		v.links[idx] = c
	} else {
		if isShort {
			v.chains[short] = int32(len(v.links))
		} else {
			v.long[string(v.key)] = int32(len(v.links))
		}
		v.links = append(v.links, c)
	}
	return nil
}

// earliestPending is the first event whose predecessor was never seen, as
// a finding (nil if none). countsAgree says that no record is missing: the
// link broke because its predecessor (the aggregate's event before it) was
// edited and re-sealed; otherwise the predecessor was deleted.
func (v *Verifier) earliestPending(countsAgree bool) *Finding {
	var first brokenLink
	var pred uint64
	for p, b := range v.pending {
		if first.seq == 0 || b.seq < first.seq {
			first, pred = b, p
		}
	}
	if first.seq == 0 {
		return nil
	}
	if at := v.seenBefore(pred, first.seq); at != 0 {
		return &Finding{Seq: first.seq, Kind: KindInsertion, Detail: fmt.Sprintf("the event at sequence %d follows the event at sequence %d, which has a successor already: a second successor (a copy of a genuine event, or an inserted one)", first.seq, at)}
	}
	if countsAgree && first.pred != 0 {
		return &Finding{Seq: first.pred, Kind: KindByteEdit, Detail: fmt.Sprintf("the event at sequence %d was changed and re-sealed: the next event of its aggregate, at sequence %d, names another predecessor (or that predecessor was deleted)", first.pred, first.seq)}
	}
	return &Finding{Seq: first.seq, Kind: KindDeletion, Detail: fmt.Sprintf("the predecessor of the event at sequence %d in its aggregate's chain is not in the stream", first.seq)}
}

// seenBefore is the sequence of an event before seq whose hash starts
// with the 8 bytes pred (0 if none): an event naming it as predecessor
// but not following its aggregate's last event is then a second
// successor. It scans the recorded prefixes, once per finding.
func (v *Verifier) seenBefore(pred, seq uint64) uint64 {
	for i, h := range v.hashes[:min(uint64(len(v.hashes)), seq-1)] {
		if h == pred {
			return uint64(i) + 1
		}
	}
	return 0
}
