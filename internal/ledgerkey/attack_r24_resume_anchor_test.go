package ledgerkey_test

import (
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// A start that resumes from a projection snapshot taken before the ledger
// signed anything (Resume("", 0) after Anchor): the anchor still holds for
// the events after the snapshot. An unsigned event past unsigned-through,
// and a first signed event by a key a planted rotation names, are forgeries
// (held, atk-r24).
func TestAnAnchoredChainResumedBeforeItsFirstSignedEventStaysAnchored(t *testing.T) {
	own, mallory := genKey(t), genKey(t)
	rev := events.TokenRevoked{Reason: events.ReasonDeleted}
	for _, tc := range []struct {
		name string
		tail []events.Envelope // sequences 3 and on
	}{
		{"unsigned_after_unsigned_through", []events.Envelope{chainEvent(t, 3, rev, nil)}},
		{"signed_by_a_key_a_planted_rotation_names", []events.Envelope{chainEvent(t, 3, rev, mallory),
			chainEvent(t, 4, events.KeyRotated{Previous: mallory.VerifierKey(), Key: own.VerifierKey()}, mallory)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ledgerkey.NewChain(own.VerifierKey())
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Learn(tc.tail); err != nil {
				t.Fatal(err)
			}
			if err := c.Anchor(ledgerkey.History{UnsignedThrough: 2, Keys: []string{own.VerifierKey()}}, own.VerifierKey()); err != nil {
				t.Fatal(err)
			}
			if err := c.Resume("", 0); err != nil { // the snapshot's state: nothing signed through sequence 2
				t.Fatal(err)
			}
			te := events.AsTamper(c.Check(tc.tail[0]))
			if te == nil || te.Seq != 3 || te.Kind != events.TamperForged {
				t.Errorf("Check(sequence 3) = %v, want a forgery at 3", te)
			}
		})
	}
}
