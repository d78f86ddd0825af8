package tokenset

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"

	"github.com/tokenledger/tokenledger/projections/internal/digest"
)

// digestVersion names the encoding below; change it with the encoding.
const digestVersion = "tokenset-digest/v2"

// Digest is the lowercase hex SHA-256 of the whole state: LastApplied and
// every token with every field (verifier included), in CreatedSeq order.
// Two Sets that applied the same events have the same Digest; a Set that
// applied one more event (of any kind: LastApplied is state) has another.
//
// The encoding is deterministic but not a wire format: compare digests of
// one build, do not store them.
func (s *Set) Digest() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	h, d := s.digestHead()
	s.digestTokens(h, d, 0, s.recs.n)
	return hex.EncodeToString(h.Sum(nil))
}

// digestChunk is how many tokens DigestYielding hashes under one hold of
// the read lock: a few milliseconds, so an apply waits at most that long.
const digestChunk = 4096

// DigestYielding is Digest computed without holding the read lock over
// the whole set (at a million tokens Digest holds it ~0.5 s, and every
// apply waits): it takes the lock for digestChunk tokens at a time. It
// reports the sequence the digest describes, and ok false when an event
// was applied between two chunks (the hash would mix two states); the
// caller tries again later.
func (s *Set) DigestYielding() (digest string, seq uint64, ok bool) {
	s.mu.RLock()
	seq, n := s.last, s.recs.n
	h, d := s.digestHead()
	for from := uint32(0); ; from += digestChunk {
		s.digestTokens(h, d, from, min(n, from+digestChunk))
		s.mu.RUnlock()
		if from+digestChunk >= n {
			return hex.EncodeToString(h.Sum(nil)), seq, true
		}
		if s.betweenDigestChunks != nil {
			s.betweenDigestChunks()
		}
		s.mu.RLock()
		if s.last != seq {
			s.mu.RUnlock()
			return "", seq, false
		}
	}
}

// digestHead starts a digest: its version, LastApplied and the number of
// tokens. s.mu is held.
func (s *Set) digestHead() (hash.Hash, *digest.Buffer) {
	h := sha256.New()
	d := &digest.Buffer{}
	d.Str(digestVersion)
	d.Uint(s.last)
	d.Uint(uint64(s.recs.n))
	h.Write(d.B)
	d.B = d.B[:0]
	return h, d
}

// digestTokens adds the tokens from … to-1 to h. s.mu is held.
func (s *Set) digestTokens(h hash.Hash, d *digest.Buffer, from, to uint32) {
	for i := from; i < to; i++ {
		tok := s.token(i)
		t := &tok
		d.Str(t.ID)
		d.Str(t.Type)
		d.Str(t.Name)
		if t.Owner != nil {
			d.Bool(true)
			d.Str(t.Owner.Kind)
			d.Str(t.Owner.ID)
		} else {
			d.Bool(false)
		}
		d.Str(t.Environment)
		d.Uint(uint64(len(t.Projects)))
		for _, p := range t.Projects {
			d.Str(p)
		}
		d.Bool(t.AllProjects)
		d.Time(t.ExpiresAt)
		d.Time(t.CreatedAt)
		d.Uint(t.CreatedSeq)
		d.Str(t.Path)
		d.Str(t.Hint)
		d.Bool(t.OnBehalfOf)
		d.Str(t.CreatedBy.Kind)
		d.Str(t.CreatedBy.ID)
		d.Str(t.CreatedBy.Name)
		d.Bool(t.Revoked)
		d.Time(t.RevokedAt)
		d.Str(t.RevokeReason)
		d.Bool(t.ExpiredRecorded)
		d.Bool(t.Orphaned)
		d.Uint(t.Version)
		d.B = append(d.B, t.verifier[:]...)
		// Flush per token so the buffer stays small for large sets.
		h.Write(d.B)
		d.B = d.B[:0]
	}
}
