package events_test

import (
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/events"
)

// TestSignOfAnEventSealedForTheKeyHashesOnce: an event sealed for the
// signer's key (SealFor) is signed over the hash SealFor computed, which is
// the hash Seal and Sign compute together, so the event verifies; signing
// it does not hash the event again (fewer allocations than signing an event
// sealed without the key). An event sealed for another key is hashed again
// with the signer's.
func TestSignOfAnEventSealedForTheKeyHashesOnce(t *testing.T) {
	unsealed := func() events.Envelope {
		e := sampleEnvelope(t, events.TokenRevoked{Reason: events.ReasonDeleted})
		e.Hash, e.Key, e.Sig = "", "", ""
		return e
	}
	want := sampleEnvelope(t, events.TokenRevoked{Reason: events.ReasonDeleted}) // Seal, then Sign
	tests := []struct {
		name  string
		seal  func(*events.Envelope) error
		again bool // Sign computes the hash again
	}{
		{"sealed for the signer's key", func(e *events.Envelope) error { return e.SealFor(goldenKey.ID()) }, false},
		{"sealed without a key", func(e *events.Envelope) error { return e.Seal() }, true},
		{"sealed for another key", func(e *events.Envelope) error { return e.SealFor("99999999") }, true},
	}
	signAllocs := map[bool]float64{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := unsealed()
			if err := tt.seal(&e); err != nil {
				t.Fatal(err)
			}
			if err := e.Sign(goldenKey); err != nil {
				t.Fatal(err)
			}
			if e.Hash != want.Hash || e.Key != goldenKey.ID() {
				t.Fatalf("hash %s key %s, want %s %s", e.Hash, e.Key, want.Hash, goldenKey.ID())
			}
			if err := e.CheckSignature(goldenKey); err != nil {
				t.Fatal(err)
			}
			b, err := events.Marshal(&e)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := events.Unmarshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if err := stored.CheckSignature(goldenKey); err != nil {
				t.Fatalf("stored: %v", err)
			}
			allocs := testing.AllocsPerRun(20, func() {
				e := unsealed()
				if err := tt.seal(&e); err != nil {
					t.Fatal(err)
				}
				if err := e.Sign(goldenKey); err != nil {
					t.Fatal(err)
				}
			})
			signAllocs[tt.again] = max(signAllocs[tt.again], allocs)
		})
	}
	// Sealing costs the same in every case; only the second hash differs.
	if !raceEnabled && signAllocs[false] >= signAllocs[true] {
		t.Fatalf("seal and sign allocate %v sealed for the key, %v otherwise: the key's seal was hashed again", signAllocs[false], signAllocs[true])
	}
}

// TestSealForThenChangedIsHashedAgainBySealFor: a field changed after
// SealFor (the store relinking Prev in a batch) is covered once SealFor runs
// again.
func TestSealForThenChangedIsHashedAgainBySealFor(t *testing.T) {
	e := sampleEnvelope(t, events.TokenRevoked{Reason: events.ReasonDeleted})
	if err := e.SealFor(goldenKey.ID()); err != nil {
		t.Fatal(err)
	}
	e.Prev = strings.Repeat("ef", 32)
	if err := e.SealFor(goldenKey.ID()); err != nil {
		t.Fatal(err)
	}
	if err := e.Sign(goldenKey); err != nil {
		t.Fatal(err)
	}
	if err := e.CheckSignature(goldenKey); err != nil {
		t.Fatal(err)
	}
}
