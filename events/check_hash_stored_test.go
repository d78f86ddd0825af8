package events_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tokenledger/tokenledger/events"
)

// The hash of an event decoded from the plain form the ledger writes is
// checked once, over its stored bytes (no re-encoding of the fields, no
// allocation), and still catches any change of those bytes; an event whose
// decoded members are not the stored ones takes the full check.
func TestCheckHashOfADecodedEventHashesItsStoredBytesOnce(t *testing.T) {
	e := sampleEnvelope(t, events.TokenRevoked{Reason: events.ReasonDeleted})
	b, err := events.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		edit   func([]byte) []byte
		change func(*events.Envelope)
		bad    bool
	}{
		{"as_stored", nil, nil, false},
		{"a_stored_byte_changed", func(b []byte) []byte { return bytes.Replace(b, []byte("alice"), []byte("alicf"), 1) }, nil, true},
		{"the_decoded_hash_changed", nil, func(e *events.Envelope) { e.Hash = e.Prev }, true},
		{"the_decoded_aggregate_changed", nil, func(e *events.Envelope) { e.AggregateID = "0193a5b2-0000-7000-8000-000000000002" }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stored := append([]byte(nil), b...)
			if tt.edit != nil {
				stored = tt.edit(stored)
			}
			d, err := events.Unmarshal(stored)
			if err != nil {
				t.Fatal(err)
			}
			if tt.change != nil {
				tt.change(&d)
			}
			err = d.CheckHash()
			if tt.bad != (err != nil) || (err != nil && !errors.Is(err, events.ErrBadHash)) {
				t.Fatalf("CheckHash = %v, want bad %v", err, tt.bad)
			}
			if !tt.bad && !raceEnabled {
				if a := testing.AllocsPerRun(50, func() { _ = d.CheckHash() }); a != 0 {
					t.Fatalf("CheckHash allocates %v times: the fields were hashed too", a)
				}
			}
		})
	}
}
