package events_test

import (
	"testing"

	"github.com/tokenledger/tokenledger/events"
)

// FuzzUnmarshal: whatever bytes the stream holds, decoding an envelope and
// its payload returns an error or a value, never a panic, and an envelope
// whose hash verifies re-encodes to bytes whose hash verifies.
func FuzzUnmarshal(f *testing.F) {
	addGoldenSeeds(f)
	f.Add([]byte(`{"type":"token.revoked","kind":"token","aggregate":"a","v":1,"data":null}`))
	f.Add([]byte(`{"type":"x","kind":"y","aggregate":"z","data":[1,2]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := events.Unmarshal(b)
		if err != nil {
			return
		}
		_, _ = e.Payload()
		ok := e.CheckHash() == nil
		out, err := events.Marshal(&e)
		if err != nil {
			return // e.g. Data that is not valid JSON
		}
		again, err := events.Unmarshal(out)
		if err != nil {
			t.Fatalf("re-encoded envelope does not decode: %v", err)
		}
		// An authentic event stays authentic once re-encoded; stored bytes
		// that decoding folds (an unknown or duplicate member) fail their
		// hash, while their re-encoding may not.
		if ok && again.CheckHash() != nil {
			t.Fatal("hash verdict changed across a re-encode")
		}
	})
}
