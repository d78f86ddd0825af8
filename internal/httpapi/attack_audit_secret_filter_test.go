package httpapi_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// README: "the ledger routes take the token's id … or the full secret".
// An auditor who pastes a leaked secret into token= or credential= ("what
// did this leaked token do?") gets 200 and no events: the record of the
// query even shows the value was recognised ("[secret]"), but the filter
// matches the raw string, so the trail answers "nothing happened" for a
// token that was created and used. A secret must select the token's events
// (or be refused with a 400), never an empty page.
func TestAuditFilterGivenATokensSecretIsNotAnEmptyAnswer(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	user := s.CreateUser("pat-owner", "Editor")
	s.Must(http.StatusOK, "GET", "/api/admin/api-tokens", user.Secret, nil) // a read through the PAT
	s.Must(http.StatusCreated, "POST", "/api/admin/user/tokens", user.Secret,
		map[string]any{"description": "made with the PAT", "expiresAt": servicetest.FromNow(48 * 3600e9)}) // a change through the PAT
	for _, filter := range []string{"token", "credential"} {
		t.Run(filter, func(t *testing.T) {
			r := s.Do("GET", "/api/ledger/events?"+filter+"="+url.QueryEscape(user.Secret), servicetest.AdminSecret, nil)
			if r.Status == http.StatusBadRequest {
				return
			}
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %.200s", r.Status, r.Body)
			}
			if evs, _ := r.JSON(t)["events"].([]any); len(evs) == 0 {
				t.Errorf("%s=<a PAT's secret> answers 200 with no events, though the PAT was created and used: %.200s", filter, r.Body)
			}
		})
	}
}
