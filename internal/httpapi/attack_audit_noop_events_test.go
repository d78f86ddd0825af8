package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The trail is for "who changed what": a PUT that sets a token's expiry to
// the value it already has changes nothing, yet each one appends a
// token.expiry-changed whose previous equals new. A client that retries a
// PUT (or 16 that send it at once: 4 such events in one run) fills the
// token's history with changes that never happened, and a compliance
// officer counting expiry changes counts them. A repeated DELETE of a
// revoked token, by contrast, appends nothing.
func TestUnchangedExpiryAppendsNoEvent(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	_, id := s.CreateToken("backend", "development")
	body := map[string]any{"expiresAt": "2031-01-01T00:00:00Z"}
	s.Must(http.StatusOK, "PUT", "/api/admin/api-tokens/"+id, servicetest.AdminSecret, body)
	before := s.LastSeq()
	s.Must(http.StatusOK, "PUT", "/api/admin/api-tokens/"+id, servicetest.AdminSecret, body)
	for _, e := range s.Events(before+1, s.LastSeq()) {
		if e.AggregateID == id && e.Type == events.TypeTokenExpiryChanged {
			t.Errorf("a PUT of the expiry the token already has appended %s at %d: %s", e.Type, e.Sequence, e.Data)
		}
	}
}
