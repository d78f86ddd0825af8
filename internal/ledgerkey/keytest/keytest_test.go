package keytest_test

import (
	"testing"

	"github.com/tokenledger/tokenledger/internal/ledgerkey/keytest"
)

func TestCollidingKeysShareAnIDAndNothingElse(t *testing.T) {
	a, b := keytest.CollidingKeys(t, "tokenledger")
	if a.ID() != b.ID() {
		t.Fatalf("IDs %s and %s differ", a.ID(), b.ID())
	}
	if a.PublicKey().Equal(b.PublicKey()) || a.VerifierKey() == b.VerifierKey() {
		t.Fatalf("the keys are the same: %s, %s", a.VerifierKey(), b.VerifierKey())
	}
	if !a.Verifier().Verify([]byte("m"), a.Sign([]byte("m"))) || b.Verifier().Verify([]byte("m"), a.Sign([]byte("m"))) {
		t.Fatal("each key must verify its own signatures only")
	}
}
