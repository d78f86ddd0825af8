package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// docs/decisions.md ("Admin tokens' verifiers stay out of the readers'
// feed"): verifiers are unsalted SHA-256, an admin token's secret is hand-
// chosen, so its verifier is an offline-guessing target and the feed
// blanks it. A user whose only permission is READ_AUDIT_LOG (a compliance
// officer, not an admin) reads the same verifier from every route of the
// trail: a page, the NDJSON/CSV/OCSF exports, the token's history and a past
// state's token.created. A guessed admin secret makes the auditor ADMIN.
func TestAuditorWithoutAdminNeverReadsAnAdminTokensVerifier(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	role := s.CreateRole("Auditors", "root", "READ_AUDIT_LOG")
	auditor := s.CreateUser("auditor", role)
	admin, ok := s.Tokens.Lookup(servicetest.AdminSecret)
	if !ok {
		t.Fatal("no admin token")
	}
	verifier := events.VerifierHex(servicetest.AdminSecret)
	for _, path := range []string{
		"/api/ledger/events?type=token.created",
		"/api/ledger/events?format=ndjson&type=token.created",
		"/api/ledger/events?format=csv&type=token.created",
		"/api/ledger/events?format=ocsf&type=token.created",
		"/api/ledger/tokens/" + admin.ID + "/history",
		"/api/ledger/events?token=" + admin.ID,
	} {
		t.Run(path, func(t *testing.T) {
			r := s.Do("GET", path, auditor.Secret, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %.200s", r.Status, r.Body)
			}
			if strings.Contains(string(r.Body), verifier) {
				t.Errorf("a READ_AUDIT_LOG user reads the admin token's verifier (SHA-256 of its hand-chosen secret)")
			}
		})
	}
}
