package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// Secrets never enter the stream (the project's standards; issue 10 item
// 5: "an error may name the field, never repeat a value that could be a
// secret"), and the audit trail redacts a secret in a read's filters. The
// README's own example of X-Ledger-Reason is "leaked in CI log, ticket
// SEC-42": the header is where an operator revoking a leaked token pastes
// what leaked. A live token's secret in the reason of a change is stored
// as is in the event, shown in the trail's pages and exports to every
// auditor, and kept in the stream for good. A reason that holds a live
// secret must be refused (400, nothing appended) or stored redacted.
func TestChangeReasonNeverStoresALiveSecret(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	live, _ := s.CreateToken("backend", "development") // stays live: the canary
	pat := s.CreateUser("canary", "Viewer").Secret
	for _, tt := range []struct{ name, reason string }{
		{"an API token's secret", "replaced by " + live + " (ticket SEC-42)"},
		{"a PAT's secret", "leaked in CI log: " + pat},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, victim := s.CreateToken("client", "development")
			before := s.LastSeq()
			r := s.Do("DELETE", "/api/admin/api-tokens/"+victim, servicetest.AdminSecret, nil, "X-Ledger-Reason", tt.reason)
			if r.Status != http.StatusOK && r.Status != http.StatusBadRequest {
				t.Fatalf("status %d: %.300s", r.Status, r.Body)
			}
			canary := live
			if strings.Contains(tt.reason, pat) {
				canary = pat
			}
			for _, e := range s.Events(before+1, s.LastSeq()) {
				b, err := json.Marshal(e)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(b), canary) {
					t.Errorf("the stream's %s at seq %d holds a live secret given as the reason (DELETE answered %d)", e.Type, e.Sequence, r.Status)
				}
			}
			page := s.Must(http.StatusOK, "GET", "/api/ledger/events?format=csv&token="+victim, servicetest.AdminSecret, nil)
			if strings.Contains(string(page.Body), canary) {
				t.Errorf("the trail's CSV export shows a live secret given as the reason")
			}
		})
	}
}
