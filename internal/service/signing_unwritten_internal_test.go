package service

import (
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// Ensure the start names as tampering a last key.rotated the ledger did
// not write (read before the replay checks it), and leaves a genuine one,
// finished or interrupted, to the key file's checks.
func TestUnwrittenRotationNamesAPlantedLastRotation(t *testing.T) {
	gen := func() *ledgerkey.Key {
		k, err := ledgerkey.Generate(ledgerkey.DefaultName)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	a, c, mallory := gen(), gen(), gen()
	rotation := func(seq uint64, from, to, signer *ledgerkey.Key) events.Envelope {
		e, err := events.New(ulid.Make().String(), events.KeyAggregate, events.KeyRotated{Previous: from.VerifierKey(), Key: to.VerifierKey()}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		e.Actor = events.System
		if err := e.SealFor(signer.ID()); err != nil {
			t.Fatal(err)
		}
		if err := e.Sign(signer); err != nil {
			t.Fatal(err)
		}
		e.Sequence = seq
		return e
	}
	for _, tt := range []struct {
		name      string
		rotations []events.Envelope
		want      uint64 // 0: not named as tampering
	}{
		{"none", nil, 0},
		{"one_genuine", []events.Envelope{rotation(5, a, c, a)}, 0},
		{"two_genuine", []events.Envelope{rotation(5, a, c, a), rotation(9, c, a, c)}, 0},
		{"not_signed_by_the_key_it_retires", []events.Envelope{rotation(5, a, c, mallory)}, 5},
		{"not_following_the_rotation_before", []events.Envelope{rotation(5, a, c, a), rotation(9, mallory, mallory, mallory)}, 9},
		{"after_a_genuine_one_not_signed_by_its_key", []events.Envelope{rotation(5, a, c, a), rotation(9, c, mallory, mallory)}, 9},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if prev, last := lastRotations(tt.rotations); last != nil {
				r, ok := rotationOf(last)
				if !ok {
					t.Fatal("the last rotation does not decode")
				}
				err = unwrittenRotation(prev, last, r)
			}
			te := events.AsTamper(err)
			switch {
			case tt.want == 0 && err != nil:
				t.Fatalf("unwrittenRotation = %v on genuine rotations", err)
			case tt.want != 0 && (te == nil || te.Seq != tt.want || te.Kind != events.TamperForged):
				t.Fatalf("unwrittenRotation = %v, want a forgery at sequence %d", err, tt.want)
			}
		})
	}
}
