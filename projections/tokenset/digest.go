package tokenset

import (
	"crypto/sha256"
	"encoding/hex"

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
	h := sha256.New()
	var d digest.Buffer
	d.Str(digestVersion)
	d.Uint(s.last)
	d.Uint(uint64(s.recs.n))
	for i := range s.recs.n {
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
	h.Write(d.B)
	return hex.EncodeToString(h.Sum(nil))
}
