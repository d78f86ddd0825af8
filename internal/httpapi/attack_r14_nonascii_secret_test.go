package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A bootstrap secret may hold any characters (the start-up checks ask for
// length and distinct characters only). noSecretIn looks for the given
// secrets' parts in the name's skeleton (printable ASCII only) and looks
// up its words in the skeleton too: a secret with a character that is not
// ASCII ("ü") never occurs in a skeleton, so a name holding it, whole,
// alone, is accepted and sealed into the stream (the trail and the
// readers' feed show token names).
func TestANameHoldingANonASCIIBootstrapSecretIsRefused(t *testing.T) {
	const prefix = "*:*."
	part := "grün-Schlüssel-7Kq2vX9pLm4RtZ8wB3nY"
	secret := prefix + part
	s := servicetest.StartWith(t, "", map[string]string{"INIT_ADMIN_API_TOKENS": servicetest.AdminSecret + "," + secret},
		func(c *service.Config) { c.MutationRate = 0 })
	s.Must(http.StatusOK, "GET", "/api/admin/api-tokens", secret, nil) // the secret is live
	for _, tt := range []struct{ name, tokenName, canary string }{
		{"the whole secret", secret, secret},
		{"its part alone", part, part},
		{"its part glued to a word", "ci" + part, part},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := s.LastSeq()
			r := s.Do("POST", "/api/admin/api-tokens", servicetest.AdminSecret,
				map[string]any{"tokenName": tt.tokenName, "type": "client", "environment": "development"})
			if r.Status != http.StatusBadRequest {
				t.Errorf("a token named with %s: status %d, want 400", tt.name, r.Status)
			}
			for _, at := range eventsHolding(t, s, before, tt.canary) {
				t.Errorf("the stream's %s holds the bootstrap secret (%s)", at, tt.name)
			}
			if strings.Contains(s.Logs(), tt.canary) {
				t.Errorf("the log holds the bootstrap secret (%s)", tt.name)
			}
		})
	}
}
