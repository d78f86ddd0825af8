package ledgerkey_test

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// A Presigner's signatures, with a nonce prepared ahead or made at once,
// are standard Ed25519 signatures of the ledger key: crypto/ed25519 and
// the key's note verifier accept them, and they do not verify for another
// message. A prepared nonce signs one message only: two signatures of the
// same message differ.
func TestPresignedSignaturesAreEd25519SignaturesOfTheKey(t *testing.T) {
	k, err := ledgerkey.Generate("tokenledger")
	if err != nil {
		t.Fatal(err)
	}
	p, err := k.Presigner()
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != k.Signer().Name() || p.KeyHash() != k.Signer().KeyHash() {
		t.Fatalf("presigner %s/%08x, key %s/%08x", p.Name(), p.KeyHash(), k.Signer().Name(), k.Signer().KeyHash())
	}
	var seen [][]byte
	for _, prepared := range []bool{true, false, true, true} {
		t.Run(fmt.Sprintf("prepared=%v", prepared), func(t *testing.T) {
			if prepared {
				if err := p.Prepare(); err != nil {
					t.Fatal(err)
				}
			}
			msg := []byte("tokenledger\n42\nroot\n")
			sig, err := p.Sign(msg)
			if err != nil {
				t.Fatal(err)
			}
			if !ed25519.Verify(k.PublicKey(), msg, sig) {
				t.Fatal("crypto/ed25519 refuses the signature")
			}
			if ed25519.Verify(k.PublicKey(), []byte("tokenledger\n43\nroot\n"), sig) {
				t.Fatal("the signature verifies for another message")
			}
			for _, s := range seen {
				if bytes.Equal(s, sig) {
					t.Fatal("two signatures of one message are the same: a nonce was used twice")
				}
			}
			seen = append(seen, sig)
			signed, err := note.Sign(&note.Note{Text: "tokenledger\n7\nAAAA\n"}, p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := note.Open(signed, note.VerifierList(k.Verifier())); err != nil {
				t.Fatalf("the key's note verifier refuses the note: %v", err)
			}
		})
	}
}
