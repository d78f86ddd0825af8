package integrity

import (
	"crypto/ed25519"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// Two different keys of one name and 32-bit key hash (a collision can be
// made) each verify a signature under that name and hash, and a third
// key's does not: the set Verifiers builds neither refuses them as
// ambiguous (every checkpoint would read as tampering) nor lets one stand
// for the other. A real collision takes 2^32 key generations, so the set
// is built with two keys filed under one name and hash.
func TestVerifierSetTakesEitherOfTwoKeysOfOneNameAndHash(t *testing.T) {
	key := func() (note.Verifier, ed25519.PrivateKey) {
		pub, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		vkey, err := note.NewEd25519VerifierKey("tokenledger", pub)
		if err != nil {
			t.Fatal(err)
		}
		v, err := note.NewVerifier(vkey)
		if err != nil {
			t.Fatal(err)
		}
		return v, priv
	}
	a, _ := key()
	b, bPriv := key()
	_, cPriv := key()
	set := verifierSet{nameHash{"tokenledger", 7}: {a, b}}
	v, err := set.Verifier("tokenledger", 7)
	if err != nil {
		t.Fatalf("two keys of one name and hash: %v", err)
	}
	msg := []byte("tokenledger\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
	if !v.Verify(msg, ed25519.Sign(bPriv, msg)) {
		t.Error("the second key's signature does not verify")
	}
	if v.Verify(msg, ed25519.Sign(cPriv, msg)) {
		t.Error("a third key's signature verifies")
	}
	if _, err := set.Verifier("tokenledger", 8); err == nil {
		t.Error("an unknown hash has a verifier")
	} else if _, ok := err.(*note.UnknownVerifierError); !ok {
		t.Errorf("an unknown hash: %T %v, want *note.UnknownVerifierError (note.Open ignores those signatures)", err, err)
	}
}
