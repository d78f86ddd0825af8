package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
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
// frontend token must leave it valid, append nothing, and say so: RFC
// 7009 §2.2.1's unsupported_token_type (400, in the error shape), since a
// 200 would tell an honest holder that the token is gone.
func TestAnonymousCannotRevokeAPublicFrontendToken(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	secret, id := s.CreateToken("frontend", "production", "default")
	before := s.LastSeq()

	r := form(s, "/api/ledger/revoke", "", url.Values{"token": {secret}})
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "unsupported_token_type") {
		t.Fatalf("revoke: %d %s, want 400 unsupported_token_type", r.Status, r.Body)
	}
	servicetest.CheckErrorShape(t, r)
	if after := s.LastSeq(); after != before {
		t.Fatalf("the refused revocation appended events: sequence %d → %d", before, after)
	}
	if _, st := s.Tokens.Verify(secret); st.String() != "valid" {
		types, actors := tokenHistory(s, id)
		t.Fatalf("an anonymous caller holding the public frontend token revoked it (now %s; sequence %d → %d; history %v by %v)",
			st, before, s.LastSeq(), types, actors)
	}
}
