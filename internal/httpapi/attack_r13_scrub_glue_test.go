package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// clientText cleans client text first (auditText drops control and format
// characters) and scrubs it after: the order atk-r9 asked for, so that a
// tab or U+200B inside a secret no longer splits it. But the dropped
// character is not replaced by a separator, so one between a word and a
// secret glues them: "leaked\t<secret>" is scrubbed as the one word
// "leaked<secret>", which is not a held secret, and neither are its parts
// either side of its colons. The secret is stored whole after "leaked",
// in the reason and in the User-Agent alike. Generated secrets are caught
// by their 64 hex digits; an admin token of INIT_ADMIN_API_TOKENS and an
// imported INIT_BACKEND_API_TOKENS token (any shape) are found only by the
// token-set lookup, which never sees them alone. The same holds for a
// letter or digit typed next to the secret ("x<secret>", "<secret>2").
func TestAControlCharacterNextToASecretDoesNotHideItFromTheScrub(t *testing.T) {
	s := servicetest.StartWith(t, "", map[string]string{"INIT_BACKEND_API_TOKENS": initBackendSecret},
		func(c *service.Config) { c.MutationRate = 0 })
	if _, ok := s.Tokens.Lookup(initBackendSecret); !ok {
		t.Fatal("the imported token is not live")
	}
	admin := servicetest.AdminSecret
	for _, tt := range []struct{ name, header, value, canary string }{
		{"the admin secret after a tab in the reason", "X-Ledger-Reason", "leaked\t" + admin, admin},
		{"the admin secret after U+200B in the reason", "X-Ledger-Reason", "leaked\u200b" + admin, admin},
		{"an imported secret after U+2060 in the reason", "X-Ledger-Reason", "rotate\u2060" + initBackendSecret, initBackendSecret},
		{"an imported secret before a tab in the reason", "X-Ledger-Reason", "rotate " + initBackendSecret + "\tnow", initBackendSecret},
		{"the admin secret after a tab in the User-Agent", "User-Agent", "deploybot\t" + admin, admin},
		{"an imported secret after U+FEFF in the User-Agent", "User-Agent", "deploybot/1.0 ci\ufeff" + initBackendSecret, initBackendSecret},
		{"the admin secret after a letter in the reason", "X-Ledger-Reason", "leaked x" + admin, admin},
		{"an imported secret before a digit in the reason", "X-Ledger-Reason", "leaked " + initBackendSecret + "2", initBackendSecret},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := s.LastSeq()
			r := s.Do("POST", "/api/admin/api-tokens", admin,
				map[string]any{"tokenName": "scrub", "type": "client", "environment": "development"}, tt.header, tt.value)
			if r.Status != http.StatusCreated && r.Status != http.StatusBadRequest {
				t.Fatalf("status %d: %.300s", r.Status, r.Body)
			}
			for _, at := range eventsHolding(t, s, before, tt.canary) {
				t.Errorf("the stream's %s holds the live secret sent in %s as %q (answer %d)", at, tt.header, tt.name, r.Status)
			}
		})
	}
}
