package tokenset_test

import (
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// The readers' feed carries admin tokens' creations without a verifier. A
// set built from the feed knows such a token (its revocation applies) but
// verifies no secret as it, the empty secret and the all-zero verifier's
// neighbours included; two of them do not collide.
func TestTokenCreatedWithoutVerifierVerifiesNoSecret(t *testing.T) {
	admin := func(name string) events.TokenCreated {
		return events.TokenCreated{TokenType: events.TokenAdmin, Name: name, Environment: "*", AllProjects: true,
			Path: events.PathBootstrap, Hint: "…"}
	}
	sec := secret("default", "development", 1)
	s := newSet(t,
		ev(t, 1, "admin-1", admin("INIT_ADMIN_API_TOKENS[1]")),
		ev(t, 2, "admin-2", admin("INIT_ADMIN_API_TOKENS[2]")),
		ev(t, 3, "client-1", created(sec, "default")),
		ev(t, 4, "admin-1", events.TokenRevoked{Reason: events.ReasonCompromised}),
	)
	if tok, ok := s.ByID("admin-1"); !ok || !tok.Revoked {
		t.Fatalf("admin-1 = %+v, %v: want known and revoked", tok, ok)
	}
	if _, ok := s.ByID("admin-2"); !ok {
		t.Fatal("admin-2 unknown")
	}
	for _, guess := range []string{"", "*:*.", "*:*.anything"} {
		if tok, st := s.Verify(guess); tok != nil || st != tokenset.Unknown {
			t.Fatalf("Verify(%q) = %v, %v: want unknown", guess, tok, st)
		}
		if _, ok := s.Lookup(guess); ok {
			t.Fatalf("Lookup(%q) found a token", guess)
		}
	}
	if tok, _ := s.Verify(sec); tok == nil || tok.ID != "client-1" {
		t.Fatalf("the client token does not verify: %v", tok)
	}
}
