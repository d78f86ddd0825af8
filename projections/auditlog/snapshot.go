package auditlog

import (
	"errors"
	"fmt"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/tokenledger/tokenledger/projections/internal/snapenc"
)

// snapshotVersion names the encoding of AppendSnapshot.
const snapshotVersion = 1

// AppendSnapshot appends the Log's index at [Log.LastApplied] to b in the
// compact binary form [Log.RestoreSnapshot] reads: the event times as
// varint deltas (the gaps are those the set of applied sequences lacks),
// every sequence set in roaring's portable serialization, and what the
// Log remembers of each token's scope. The time → sequence blocks are
// not written; a restore rebuilds them. The encoding is not
// authenticated: whoever stores it must.
func (l *Log) AppendSnapshot(b []byte) ([]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	w := snapenc.Writer{B: b}
	w.Uint(snapshotVersion)
	w.Uint(l.last)
	w.Uint(l.base)
	w.Uint(uint64(len(l.times)))
	if err := writeBitmap(&w, l.present); err != nil {
		return nil, err
	}
	prev := int64(0)
	for _, t := range l.times {
		if t == gapTime {
			continue // a sequence present lacks
		}
		w.Int(t - prev)
		prev = t
	}
	for _, idx := range l.indexes() {
		w.Uint(uint64(len(*idx)))
		for k, bm := range *idx {
			w.Str(k)
			if err := writeBitmap(&w, bm); err != nil {
				return nil, err
			}
		}
	}
	w.Uint(uint64(len(l.scopes)))
	for _, s := range l.scopes {
		w.Uint(uint64(len(s.projects)))
		for _, p := range s.projects {
			w.Str(p)
		}
		w.Str(s.environment)
		w.Str(s.tokenType)
	}
	w.Uint(uint64(len(l.tokens)))
	for id, i := range l.tokens {
		w.Raw(id[:])
		w.Uint(uint64(i))
	}
	w.Uint(uint64(len(l.otherTokens)))
	for id, i := range l.otherTokens {
		w.Str(id)
		w.Uint(uint64(i))
	}
	return w.B, nil
}

// indexes are the Log's sequence-set maps, in the snapshot's order.
func (l *Log) indexes() []*map[string]*roaring.Bitmap {
	return []*map[string]*roaring.Bitmap{&l.byType, &l.byKind, &l.byActor, &l.byActorName, &l.byCredential, &l.byProject, &l.byEnv}
}

func writeBitmap(w *snapenc.Writer, bm *roaring.Bitmap) error {
	b, err := bm.ToBytes()
	if err != nil {
		return fmt.Errorf("auditlog: snapshot: %w", err)
	}
	w.Bytes(b)
	return nil
}

func readBitmap(r *snapenc.Reader, last uint64) *roaring.Bitmap {
	b := r.Bytes()
	if r.Err() != nil {
		return nil
	}
	bm := roaring.New()
	if err := bm.UnmarshalBinary(b); err != nil {
		r.Fail("sequence set: %v", err)
		return nil
	}
	if !bm.IsEmpty() && uint64(bm.Maximum()) > last {
		r.Fail("sequence set holds %d, beyond the last applied %d", bm.Maximum(), last)
		return nil
	}
	return bm
}

// RestoreSnapshot loads the index [Log.AppendSnapshot] wrote into l, which
// must be empty (new; its Reader stays). On error l is left empty.
func (l *Log) RestoreSnapshot(b []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last != 0 {
		return errors.New("auditlog: restore a snapshot into a log that applied events")
	}
	if err := l.restore(snapenc.NewReader(b)); err != nil {
		n := New(l.reader)
		l.last, l.base, l.times, l.blockMin, l.runMax, l.present = 0, 0, nil, nil, nil, n.present
		l.byType, l.byKind, l.byActor, l.byActorName, l.byCredential, l.byProject, l.byEnv =
			n.byType, n.byKind, n.byActor, n.byActorName, n.byCredential, n.byProject, n.byEnv
		l.tokens, l.otherTokens, l.scopes, l.scopeIndex = n.tokens, n.otherTokens, n.scopes, n.scopeIndex
		return fmt.Errorf("auditlog: restore snapshot: %w", err)
	}
	return nil
}

// maxRestoredGaps bounds the sequences a restored log may not have
// applied beyond the number it applied.
const maxRestoredGaps = 1 << 16

func (l *Log) restore(r *snapenc.Reader) error {
	if v := r.Uint(); r.Err() == nil && v != snapshotVersion {
		return fmt.Errorf("%w: version %d, this build reads %d", snapenc.ErrCorrupt, v, snapshotVersion)
	}
	last, base := r.Uint(), r.Uint()
	n := r.Uint()
	switch {
	case r.Err() != nil:
		return r.Err()
	case last > MaxSequence || (base == 0) != (n == 0) || (n > 0 && (base > last || n != last-base+1)):
		return fmt.Errorf("%w: %d times from %d up to %d", snapenc.ErrCorrupt, n, base, last)
	}
	present := readBitmap(r, last)
	if r.Err() != nil {
		return r.Err()
	}
	// Every applied sequence's time costs a byte of input at least; a gap
	// costs none, so gaps are bounded too (the log never has many: the
	// Runner stops at a missing sequence), or a few bytes could claim
	// 2^32 of them.
	if c := present.GetCardinality(); c > n || (c > 0 && uint64(present.Minimum()) < base) || r.Len() < int(c) || n-c > c+maxRestoredGaps {
		return fmt.Errorf("%w: %d sequences applied, %d times from %d", snapenc.ErrCorrupt, c, n, base)
	}
	l.times = make([]int64, 0, n)
	prev := int64(0)
	for pos := range n {
		if !present.Contains(uint32(base + pos)) {
			l.pushTime(gapTime)
			continue
		}
		prev += r.Int()
		if prev == gapTime {
			r.Fail("a time of the gap marker")
		}
		l.pushTime(prev)
	}
	l.present = present
	for _, idx := range l.indexes() {
		for range r.Count(3) {
			k := r.Str()
			bm := readBitmap(r, last)
			if r.Err() != nil {
				return r.Err()
			}
			if k == "" || (*idx)[k] != nil {
				return fmt.Errorf("%w: index key %q empty or twice", snapenc.ErrCorrupt, k)
			}
			(*idx)[k] = bm
		}
	}
	nScopes := r.Count(4)
	if nScopes == 0 {
		r.Fail("no scopes (the first is the empty one)")
	}
	l.scopes = make([]scope, 0, nScopes)
	clear(l.scopeIndex)
	for range nScopes {
		var s scope
		if np := r.Count(2); np > 0 {
			s.projects = make([]string, np)
			for i := range s.projects {
				s.projects[i] = r.Str()
			}
		}
		s.environment, s.tokenType = r.Str(), r.Str()
		if r.Err() != nil {
			return r.Err()
		}
		key := scopeKey(s)
		if len(l.scopes) == 0 {
			key = "" // the empty scope, as New makes it
		}
		if _, dup := l.scopeIndex[key]; dup {
			return fmt.Errorf("%w: scope %d twice", snapenc.ErrCorrupt, len(l.scopes))
		}
		l.scopeIndex[key] = uint32(len(l.scopes))
		l.scopes = append(l.scopes, s)
	}
	scopeOf := func() uint32 {
		i := r.Uint()
		if i >= uint64(len(l.scopes)) {
			r.Fail("scope %d of %d", i, len(l.scopes))
		}
		return uint32(i)
	}
	nTokens := r.Count(17)
	l.tokens = make(map[[16]byte]uint32, nTokens) // sized once, not grown
	for range nTokens {
		var id [16]byte
		copy(id[:], r.Raw(len(id)))
		l.tokens[id] = scopeOf()
	}
	for range r.Count(3) {
		id := r.Str()
		l.otherTokens[id] = scopeOf()
	}
	if err := r.End(); err != nil {
		return err
	}
	l.last, l.base = last, base
	return nil
}
