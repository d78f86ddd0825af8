package tokenset

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// digestVersion names the encoding below; change it with the encoding.
const digestVersion = "tokenset-digest/v1"

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
	var d digester
	d.str(digestVersion)
	d.uint(s.last)
	d.uint(uint64(len(s.all)))
	for _, e := range s.all {
		t := e.t
		d.str(t.ID)
		d.str(t.Type)
		d.str(t.Name)
		if t.Owner != nil {
			d.bool(true)
			d.str(t.Owner.Kind)
			d.str(t.Owner.ID)
		} else {
			d.bool(false)
		}
		d.str(t.Environment)
		d.uint(uint64(len(t.Projects)))
		for _, p := range t.Projects {
			d.str(p)
		}
		d.bool(t.AllProjects)
		d.time(t.ExpiresAt)
		d.time(t.CreatedAt)
		d.uint(t.CreatedSeq)
		d.str(t.Path)
		d.str(t.Hint)
		d.bool(t.OnBehalfOf)
		d.str(t.CreatedBy.Kind)
		d.str(t.CreatedBy.ID)
		d.str(t.CreatedBy.Name)
		d.bool(t.Revoked)
		d.time(t.RevokedAt)
		d.str(t.RevokeReason)
		d.bool(t.ExpiredRecorded)
		d.uint(t.Version)
		d.buf = append(d.buf, t.verifier[:]...)
		// Flush per token so the buffer stays small for large sets.
		h.Write(d.buf)
		d.buf = d.buf[:0]
	}
	h.Write(d.buf)
	return hex.EncodeToString(h.Sum(nil))
}

// digester appends an unambiguous encoding: strings are length-prefixed,
// times are UTC RFC 3339 with nanoseconds (location and monotonic reading
// are not state).
type digester struct{ buf []byte }

func (d *digester) uint(v uint64) { d.buf = binary.AppendUvarint(d.buf, v) }

func (d *digester) str(v string) {
	d.uint(uint64(len(v)))
	d.buf = append(d.buf, v...)
}

func (d *digester) bool(v bool) {
	if v {
		d.buf = append(d.buf, 1)
	} else {
		d.buf = append(d.buf, 0)
	}
}

func (d *digester) time(t time.Time) {
	d.str(t.UTC().Format(time.RFC3339Nano))
}
