package ledgerkey_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// The event signer's signatures, made with prepared nonces, are standard
// Ed25519 signatures of the ledger key over the event's hash: a chain of
// the key's verifier key (the projections', `tokenledger verify`'s) accepts
// the events with the public key alone, crypto/ed25519 verifies them, and
// an event whose bytes or signature were changed is refused. Each
// signature takes one prepared nonce, so two signatures of one hash
// differ.
func TestEventSignerMakesEd25519SignaturesEveryVerifierAccepts(t *testing.T) {
	key := genKey(t)
	s, err := key.EventSigner()
	if err != nil {
		t.Fatal(err)
	}
	if s.ID() != key.ID() {
		t.Fatalf("signer id %s, key id %s", s.ID(), key.ID())
	}
	c, err := ledgerkey.NewChain(key.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	rev := events.TokenRevoked{Reason: events.ReasonDeleted}
	for seq := uint64(1); seq <= 3; seq++ {
		e := stored(t, chainEvent(t, seq, rev, s), nil)
		sig, err := base64.StdEncoding.DecodeString(e.Sig)
		if err != nil || !ed25519.Verify(key.PublicKey(), []byte(e.Hash), sig) {
			t.Fatalf("seq %d: crypto/ed25519 refuses the signature (%v)", seq, err)
		}
		if err := c.Check(e); err != nil {
			t.Fatalf("seq %d: the chain refuses the event: %v", seq, err)
		}
	}

	// Tampered copies are refused as for crypto/ed25519's signatures.
	c2, _ := ledgerkey.NewChain(key.VerifierKey())
	if err := c2.Check(stored(t, chainEvent(t, 1, rev, s), nil)); err != nil {
		t.Fatal(err)
	}
	edited := stored(t, chainEvent(t, 2, rev, s), func(b []byte) []byte {
		return bytes.Replace(b, []byte(`"name":"system"`), []byte(`"name":"mallory"`), 1)
	})
	if te := events.AsTamper(c2.Check(edited)); te == nil || te.Kind != events.TamperEdited {
		t.Fatalf("an edited event: %v, want %s", te, events.TamperEdited)
	}
	forged := stored(t, chainEvent(t, 2, rev, s), nil)
	sig, _ := base64.StdEncoding.DecodeString(forged.Sig)
	sig[40] ^= 1
	forged.Sig = base64.StdEncoding.EncodeToString(sig)
	if te := events.AsTamper(c2.Check(forged)); te == nil || te.Kind != events.TamperForged {
		t.Fatalf("a changed signature: %v, want %s", te, events.TamperForged)
	}

	msg := []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	a, b := s.Sign(msg), s.Sign(msg)
	if bytes.Equal(a, b) {
		t.Fatal("two signatures of one hash are equal: a nonce signed twice")
	}
	for _, sig := range [][]byte{a, b} {
		if !ed25519.Verify(key.PublicKey(), msg, sig) {
			t.Fatal("crypto/ed25519 refuses a signature")
		}
	}
}

// A signature takes a prepared nonce from the pool (the commitment is not
// computed on the signer's path), and the pool is refilled before it runs
// dry, not by every signature.
func TestEventSignerSignsWithPreparedNonces(t *testing.T) {
	s, err := genKey(t).EventSigner()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Prepare(ledgerkey.EventNonceLow + 2); err != nil {
		t.Fatal(err)
	}
	msg := []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	for want := ledgerkey.EventNonceLow + 1; want >= ledgerkey.EventNonceLow; want-- {
		s.Sign(msg)
		if got := s.Ready(); got != want {
			t.Fatalf("%d nonces ready after a signature, want %d", got, want)
		}
	}
}
