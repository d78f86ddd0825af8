package httpapi_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A frontend token is public by design: Unleash's frontend SDKs ship it
// in the browser, to every visitor of the site ("backend tokens are
// secrets and must not be exposed to end users"; frontend tokens are
// their exposed counterpart). Holding it proves nothing, so RFC 7009
// revocation "by its holder" without any other credential lets any
// visitor, anonymously, revoke the site's token and switch its feature
// flags off, again for every replacement. An anonymous revocation of a
// frontend token must leave it valid.
func TestAnonymousCannotRevokeAPublicFrontendToken(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	secret, id := s.CreateToken("frontend", "production", "default")
	before := s.LastSeq()

	r := form(s, "/api/ledger/revoke", "", url.Values{"token": {secret}})
	if r.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if _, st := s.Tokens.Verify(secret); st.String() != "valid" {
		types, actors := tokenHistory(s, id)
		t.Fatalf("an anonymous caller holding the public frontend token revoked it (now %s; sequence %d → %d; history %v by %v)",
			st, before, s.LastSeq(), types, actors)
	}
}
