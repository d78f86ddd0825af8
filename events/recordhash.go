package events

// SetRecordHash attaches h, a digest of the event's stored bytes (the
// integrity projection's Merkle leaf hash), computed once ahead of the
// projections, e.g. on a replay's decoding goroutine, so that applying
// the event does not hash its bytes again. It travels with copies of the
// envelope; Unmarshal starts without one. Only the stored bytes
// themselves may go into h: nothing checks it against them again.
func (e *Envelope) SetRecordHash(h [32]byte) {
	e.recordHash, e.hasRecordHash = h, true
}

// RecordHash is the digest SetRecordHash attached, if any.
func (e *Envelope) RecordHash() ([32]byte, bool) {
	return e.recordHash, e.hasRecordHash
}
