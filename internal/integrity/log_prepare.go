package integrity

import "github.com/tokenledger/tokenledger/events"

// Prepare computes env's Merkle leaf hash from its stored bytes and
// attaches it to env ([events.Envelope.SetRecordHash]), so that Apply
// does not hash the bytes again. It depends on nothing but env: a replay
// calls it on its decoding goroutine, ahead of and concurrently with
// Apply (projections.Preparer). An event without stored bytes is left
// as it is (Apply refuses it).
func (l *Log) Prepare(env *events.Envelope) {
	if b := env.Stored(); b != nil {
		env.SetRecordHash(recordHash(b))
	}
}

// leafOf is env's leaf hash: the one Prepare attached, else computed.
func leafOf(env *events.Envelope) [32]byte {
	if h, ok := env.RecordHash(); ok {
		return h
	}
	return recordHash(env.Stored())
}
