package ledgerkey_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// TestResumedChainChecksTheNextEventsAsTheFollowedOne: a Chain resumed
// from another's State accepts what that one accepts next (the current
// key) and refuses what it refuses (the rotated-away key); a key the chain
// does not know cannot be resumed.
func TestResumedChainChecksTheNextEventsAsTheFollowedOne(t *testing.T) {
	k1, k2 := genKey(t), genKey(t)
	followed, err := ledgerkey.NewChain(k1.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	rot := chainEvent(t, 2, events.KeyRotated{Previous: k1.VerifierKey(), Key: k2.VerifierKey()}, k1)
	for _, e := range []events.Envelope{chainEvent(t, 1, events.TokenRevoked{Reason: events.ReasonDeleted}, k1), rot} {
		if err := followed.Check(e); err != nil {
			t.Fatal(err)
		}
	}
	vkey, first := followed.State()
	if vkey != k2.VerifierKey() || first != 1 {
		t.Fatalf("state %s %d, want the rotated key from 1", vkey, first)
	}
	resumed, _ := ledgerkey.NewChain(k1.VerifierKey())
	if err := resumed.Learn([]events.Envelope{rot}); err != nil {
		t.Fatal(err)
	}
	if err := resumed.Resume(vkey, first); err != nil {
		t.Fatal(err)
	}
	if err := resumed.Check(chainEvent(t, 3, events.TokenRevoked{Reason: events.ReasonDeleted}, k2)); err != nil {
		t.Fatalf("the current key's event refused: %v", err)
	}
	var tamper *events.TamperError
	if err := resumed.Check(chainEvent(t, 4, events.TokenRevoked{Reason: events.ReasonDeleted}, k1)); !errors.As(err, &tamper) {
		t.Fatalf("an event of the rotated-away key: %v, want a TamperError", err)
	}
	stranger, _ := ledgerkey.NewChain(k1.VerifierKey())
	if err := stranger.Resume(genKey(t).VerifierKey(), 1); err == nil {
		t.Fatal("resumed with a key the chain does not know")
	}
}

// TestDeriveKeyIsPerKeyAndPurpose: derived secrets differ by signing key
// and by purpose, and are stable for one key and purpose.
func TestDeriveKeyIsPerKeyAndPurpose(t *testing.T) {
	k1, k2 := genKey(t), genKey(t)
	a, _ := k1.DeriveKey("snapshot")
	b, _ := k1.DeriveKey("snapshot")
	c, _ := k1.DeriveKey("other")
	d, _ := k2.DeriveKey("snapshot")
	if len(a) != 32 || !bytes.Equal(a, b) || bytes.Equal(a, c) || bytes.Equal(a, d) {
		t.Fatal("derived keys are not per key and purpose")
	}
}
