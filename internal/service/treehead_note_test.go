package service

import (
	"bytes"
	"testing"

	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// TestTheTreeHeadIsTheSignedNoteOfItsCheckpoint: the tree head's own note
// writer makes byte for byte the note integrity.SignCheckpoint makes (with
// the key's deterministic signer), and a note of the prepared-nonce signer
// that the key's verifier opens to the same checkpoint; a checkpoint of
// another origin is refused.
func TestTheTreeHeadIsTheSignedNoteOfItsCheckpoint(t *testing.T) {
	k, err := ledgerkey.Generate("tokenledger-test")
	if err != nil {
		t.Fatal(err)
	}
	p, err := k.Presigner()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := integrity.Verifiers(k.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{0, 1, 9, 10, 99999, 1000000, 1 << 40} {
		c := integrity.Checkpoint{Origin: k.Signer().Name(), Size: size, Root: [32]byte{byte(size), 0xfe, 7}}
		want, err := integrity.SignCheckpoint(c, k.Signer())
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendSignedHead([]byte("prefix"), c, k.Signer())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[len("prefix"):], want) || string(got[:len("prefix")]) != "prefix" {
			t.Fatalf("size %d: the head's note\n%q\nis not SignCheckpoint's\n%q", size, got, want)
		}
		pre, err := appendSignedHead(nil, c, p)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := integrity.OpenCheckpoint(pre, keys); err != nil || back.Size != c.Size || back.Root != c.Root {
			t.Fatalf("size %d: the presigned head opens to %+v (%v)", size, back, err)
		}
	}
	if _, err := appendSignedHead(nil, integrity.Checkpoint{Origin: "another", Size: 1}, k.Signer()); err == nil {
		t.Fatal("a checkpoint of another origin was signed")
	}
}
