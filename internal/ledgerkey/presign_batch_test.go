package ledgerkey_test

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// Nonces prepared in a batch are each used by one signature: Ready counts
// them down, every signature verifies, and no two signatures of the same
// message share a nonce commitment (R, the signature's first half).
func TestBatchPreparedNoncesEachSignOnce(t *testing.T) {
	k, err := ledgerkey.Generate("tokenledger")
	if err != nil {
		t.Fatal(err)
	}
	p, err := k.Presigner()
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	if err := p.PrepareN(n); err != nil {
		t.Fatal(err)
	}
	if got := p.Ready(); got != n {
		t.Fatalf("%d nonces ready after PrepareN(%d)", got, n)
	}
	msg := []byte("tokenledger\n42\nroot\n")
	var commits [][]byte
	for i := range n + 2 { // two more than prepared: made at once
		sig, err := p.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		if !ed25519.Verify(k.PublicKey(), msg, sig) {
			t.Fatalf("signature %d does not verify", i)
		}
		if want := max(n-i-1, 0); p.Ready() != want {
			t.Fatalf("after %d signatures %d nonces ready, want %d", i+1, p.Ready(), want)
		}
		for _, c := range commits {
			if bytes.Equal(c, sig[:32]) {
				t.Fatalf("signature %d reuses a nonce", i)
			}
		}
		commits = append(commits, sig[:32])
	}
}
