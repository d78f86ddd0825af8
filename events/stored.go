package events

// Stored is the bytes the envelope was decoded from by [Unmarshal], exactly
// as they are stored in the stream (nil for an envelope built in memory).
// The Merkle tree over the stream hashes them; callers must not change
// them.
func (e *Envelope) Stored() []byte { return e.stored }
