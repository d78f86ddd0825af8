package ledgerkey_test

import (
	"bytes"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// Precheck proves, on all CPUs, the stored events of a run whose hash
// and signature hold with a known key, and Check takes those without doing
// the work again; an event of the run whose stored bytes were edited, or
// that another key signed, is not prechecked and Check names it as without
// Precheck.
func TestPrecheckProvesTheHonestEventsOfARunOnly(t *testing.T) {
	key, mallory := genKey(t), genKey(t)
	rev := events.TokenRevoked{Reason: events.ReasonDeleted}
	tests := []struct {
		name    string
		bad     int // index of the bad event in the run of 100; -1: none
		edit    func([]byte) []byte
		signer  *ledgerkey.Key
		badKind string
	}{
		{"honest", -1, nil, key, ""},
		{"stored_bytes_edited", 57, func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"name":"system"`), []byte(`"name":"mallory"`), 1)
		}, key, events.TamperEdited},
		{"signed_by_another_key", 33, nil, mallory, events.TamperForged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var run []events.Envelope
			for i := range 100 {
				signer, edit := key, func(b []byte) []byte { return b }
				if i == tt.bad {
					signer = tt.signer
					if tt.edit != nil {
						edit = tt.edit
					}
				}
				run = append(run, stored(t, chainEvent(t, uint64(i+1), rev, signer), edit))
			}
			c, err := ledgerkey.NewChain(key.VerifierKey())
			if err != nil {
				t.Fatal(err)
			}
			c.Precheck(run)
			want := 100
			if tt.bad >= 0 {
				want = 99
			}
			if got := c.PrecheckedLen(); got != want {
				t.Fatalf("prechecked %d events, want %d", got, want)
			}
			for _, e := range run {
				te := events.AsTamper(c.Check(e))
				if int(e.Sequence) == tt.bad+1 {
					if te == nil || te.Kind != tt.badKind || te.Seq != e.Sequence {
						t.Fatalf("seq %d: %v, want %s", e.Sequence, te, tt.badKind)
					}
					return
				}
				if te != nil {
					t.Fatalf("seq %d refused: %v", e.Sequence, te)
				}
			}
			if got := c.PrecheckedLen(); got != 0 {
				t.Fatalf("%d prechecked events left after their checks", got)
			}
		})
	}
}
