package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// format= names what the caller wants; Accept is the fallback. An explicit
// format=json is overridden by an Accept of text/csv or NDJSON (a browser
// extension, a proxy or an HTTP library's default): the caller gets a CSV
// or NDJSON export instead of the JSON page it asked for, and with limit=
// a 400 that blames the limit.
func TestExplicitFormatJSONAnswersAPageWhateverAcceptSays(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	for _, accept := range []string{"text/csv", "application/x-ndjson"} {
		for _, path := range []string{"/api/ledger/events?format=json", "/api/ledger/events?format=json&limit=5"} {
			t.Run(accept+" "+path, func(t *testing.T) {
				r := s.Do("GET", path, servicetest.AdminSecret, nil, "Accept", accept)
				if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
					t.Errorf("status %d, Content-Type %q, want a JSON page: %.120s", r.Status, r.Header.Get("Content-Type"), r.Body)
				}
			})
		}
	}
}
