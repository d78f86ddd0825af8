package tokenset

import (
	"errors"
	"fmt"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/internal/snapenc"
)

// snapshotVersion names the encoding of AppendSnapshot; RestoreSnapshot
// refuses any other.
const snapshotVersion = 1

// Token flags in a snapshot.
const (
	snapRevoked = 1 << iota
	snapExpiredRecorded
	snapAllProjects
	snapOnBehalfOf
	snapOrphaned
	snapOwner
	snapProjects // Projects is not nil
)

// AppendSnapshot appends the Set's whole state at [Set.LastApplied] to b
// in a compact binary form that [Set.RestoreSnapshot] reads back: every
// token with every field, in CreatedSeq order, and the deletions applied.
// The indexes are not written; a restore rebuilds them.
//
// The encoding is not authenticated: whoever stores it must (a snapshot
// file is a cache the service checks and MACs).
func (s *Set) AppendSnapshot(b []byte) []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	w := snapenc.Writer{B: b}
	w.Uint(snapshotVersion)
	w.Uint(s.last)
	writeSet(&w, s.deletedProjects)
	writeSet(&w, s.deletedEnvs)
	w.Uint(uint64(len(s.deletedOwners)))
	for o := range s.deletedOwners {
		w.Str(o.Kind)
		w.Str(o.ID)
	}
	w.Uint(uint64(s.recs.n))
	for i := range s.recs.n {
		tok := s.token(i)
		t := &tok
		w.Uint(flag(t.Revoked, snapRevoked) | flag(t.ExpiredRecorded, snapExpiredRecorded) |
			flag(t.AllProjects, snapAllProjects) | flag(t.OnBehalfOf, snapOnBehalfOf) | flag(t.Orphaned, snapOrphaned) |
			flag(t.Owner != nil, snapOwner) | flag(t.Projects != nil, snapProjects))
		w.Raw(t.verifier[:])
		w.Uint(t.CreatedSeq)
		w.Uint(t.Version - t.CreatedSeq)
		w.Str(t.ID)
		w.Str(t.Type)
		w.Str(t.Name)
		if t.Owner != nil {
			w.Str(t.Owner.Kind)
			w.Str(t.Owner.ID)
		}
		w.Str(t.Environment)
		if t.Projects != nil {
			w.Uint(uint64(len(t.Projects)))
			for _, p := range t.Projects {
				w.Str(p)
			}
		}
		w.Time(t.ExpiresAt)
		w.Time(t.CreatedAt)
		w.Str(t.Path)
		w.Str(t.Hint)
		w.Str(t.CreatedBy.Kind)
		w.Str(t.CreatedBy.ID)
		w.Str(t.CreatedBy.Name)
		w.Time(t.RevokedAt)
		w.Str(t.RevokeReason)
	}
	return w.B
}

func flag(on bool, bit uint64) uint64 {
	if on {
		return bit
	}
	return 0
}

func writeSet(w *snapenc.Writer, m map[string]bool) {
	w.Uint(uint64(len(m)))
	for k := range m {
		w.Str(k)
	}
}

// RestoreSnapshot loads the state [Set.AppendSnapshot] wrote into s, which
// must be empty (new): afterwards s is as the Set that wrote it was, with
// the same LastApplied, tokens, indexes and verification answers, and
// applying the events after it continues as a replay would. On error s
// is left empty.
func (s *Set) RestoreSnapshot(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last != 0 || s.recs.n != 0 {
		return errors.New("tokenset: restore a snapshot into a set that applied events")
	}
	if err := s.restore(snapenc.NewReader(b)); err != nil {
		s.reset()
		return fmt.Errorf("tokenset: restore snapshot: %w", err)
	}
	return nil
}

func (s *Set) restore(r *snapenc.Reader) error {
	if v := r.Uint(); r.Err() == nil && v != snapshotVersion {
		return fmt.Errorf("%w: version %d, this build reads %d", snapenc.ErrCorrupt, v, snapshotVersion)
	}
	last := r.Uint()
	readSet(r, s.deletedProjects)
	readSet(r, s.deletedEnvs)
	for range r.Count(4) {
		s.deletedOwners[events.Owner{Kind: r.Str(), ID: r.Str()}] = true
	}
	n := r.Count(32)
	// Indexes of the final size, not a doubling per power of two.
	s.vx.reserve(&s.recs, n)
	s.byID.reserve(n, s.hashID)
	prevSeq := uint64(0)
	for k := range n {
		flags := r.Uint()
		t := Token{}
		copy(t.verifier[:], r.Raw(len(t.verifier)))
		t.CreatedSeq = r.Uint()
		t.Version = t.CreatedSeq + r.Uint()
		t.ID, t.Type, t.Name = r.Str(), r.Str(), r.Str()
		if flags&snapOwner != 0 {
			t.Owner = &events.Owner{Kind: r.Str(), ID: r.Str()}
		}
		t.Environment = r.Str()
		if flags&snapProjects != 0 {
			t.Projects = make([]string, r.Count(2))
			for i := range t.Projects {
				t.Projects[i] = r.Str()
			}
		}
		t.ExpiresAt, t.CreatedAt = r.Time(), r.Time()
		t.Path, t.Hint = r.Str(), r.Str()
		t.CreatedBy = events.Actor{Kind: r.Str(), ID: r.Str(), Name: r.Str()}
		t.RevokedAt, t.RevokeReason = r.Time(), r.Str()
		t.Revoked = flags&snapRevoked != 0
		t.ExpiredRecorded = flags&snapExpiredRecorded != 0
		t.AllProjects = flags&snapAllProjects != 0
		t.OnBehalfOf = flags&snapOnBehalfOf != 0
		t.Orphaned = flags&snapOrphaned != 0
		if r.Err() != nil {
			return r.Err()
		}
		if t.CreatedSeq <= prevSeq || t.Version > last || t.ID == "" {
			return fmt.Errorf("%w: token %d (created at %d after %d, version %d, last %d)", snapenc.ErrCorrupt, k, t.CreatedSeq, prevSeq, t.Version, last)
		}
		if _, dup := s.find(t.ID); dup {
			return fmt.Errorf("%w: token %s twice", snapenc.ErrCorrupt, t.ID)
		}
		prevSeq = t.CreatedSeq
		// In CreatedSeq order, as the replay created them: a verifier
		// two tokens share ends with the newer one.
		s.add(&t)
	}
	if err := r.End(); err != nil {
		return err
	}
	s.last = last
	return nil
}

// reset empties s after a failed restore.
func (s *Set) reset() {
	s.last = 0
	s.vx.tab.Store(nil)
	s.vx.n = 0
	s.recs.reset()
	s.blobs.chunks.reset()
	s.blobs.used = 0
	s.init()
}

func readSet(r *snapenc.Reader, m map[string]bool) {
	for range r.Count(2) {
		m[r.Str()] = true
	}
}
