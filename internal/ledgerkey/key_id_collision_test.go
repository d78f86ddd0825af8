package ledgerkey_test

import (
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/ledgerkey/keytest"
)

// A key's ID is a 32-bit hash of its name and public key, and names are
// free: a second key with the ledger key's ID costs minutes of SHA-256.
// Whoever can write to the stream plants a key.rotated naming such a key
// (Learn reads every stored rotation before any is checked), or the
// ledger's chain rotates to one. The chain must never take that key's
// signatures for the ledger's: every event mallory signs is refused,
// wherever the planted key appears, before or after the checkpoint-covered
// part, with or without Precheck.
func TestChainNeverTakesAKeyWithAKnownKeysIDForIt(t *testing.T) {
	own, mallory := keytest.CollidingKeys(t, "tokenledger")
	rev := events.TokenRevoked{Reason: events.ReasonDeleted}
	forged := events.TokenCreated{TokenType: events.TokenAdmin, Name: "planted", Environment: "*", AllProjects: true, Path: "admin-api",
		Verifier: events.VerifierHex("*:*.planted-admin-secret"), Hint: "planted"}
	tests := []struct {
		name    string
		planted events.KeyRotated // stored at sequence 2, signed by mallory
		trusted uint64            // TrustThrough
	}{
		{"planted_as_previous", events.KeyRotated{Previous: mallory.VerifierKey(), Key: mallory.VerifierKey()}, 1},
		{"planted_as_new_key", events.KeyRotated{Previous: own.VerifierKey(), Key: mallory.VerifierKey()}, 1},
		{"planted_and_nothing_covered", events.KeyRotated{Previous: mallory.VerifierKey(), Key: mallory.VerifierKey()}, 0},
	}
	for _, tt := range tests {
		for _, pre := range []bool{false, true} {
			name := tt.name
			if pre {
				name += "/prechecked"
			}
			t.Run(name, func(t *testing.T) {
				evs := []events.Envelope{
					chainEvent(t, 1, rev, own),
					chainEvent(t, 2, tt.planted, mallory),
					chainEvent(t, 3, forged, mallory),
				}
				c, err := ledgerkey.NewChain(own.VerifierKey())
				if err != nil {
					t.Fatal(err)
				}
				c.TrustThrough(tt.trusted)
				if err := c.Learn(evs); err != nil {
					if te := events.AsTamper(err); te == nil || te.Seq != 2 || te.Kind != events.TamperForged {
						t.Fatalf("Learn: %v, want a forgery at sequence 2", err)
					}
					return // refused before any event is applied
				}
				if pre {
					c.Precheck(evs)
				}
				for _, e := range evs {
					if err := c.Check(e); err != nil {
						if te := events.AsTamper(err); te == nil || e.Sequence == 1 {
							t.Fatalf("seq %d: %v", e.Sequence, err)
						}
						return
					}
				}
				t.Fatalf("mallory's key (ID %s, the ledger key's) signed a key.rotated and an admin token the chain accepted", mallory.ID())
			})
		}
	}
}

// Ensure a chain is never given two keys of one ID: NewChain refuses them.
func TestNewChainRefusesTwoKeysOfOneID(t *testing.T) {
	a, b := keytest.CollidingKeys(t, "tokenledger")
	if _, err := ledgerkey.NewChain(a.VerifierKey(), b.VerifierKey()); err == nil {
		t.Fatalf("NewChain took %s and %s, both ID %s", a.VerifierKey(), b.VerifierKey(), a.ID())
	}
	if _, err := ledgerkey.NewChain(a.VerifierKey(), a.VerifierKey()); err != nil {
		t.Fatalf("the same key twice: %v", err)
	}
}
