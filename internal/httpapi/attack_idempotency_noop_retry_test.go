package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A no-op PUT of a token's expiry under an Idempotency-Key now claims the
// key alone (claimKeyAlone), under its command id, but records nothing on
// the token. When the token's expiry is changed meanwhile by another
// request, the byte-for-byte retry of the no-op decides a real change,
// finds its key claimed by its own command id (errKeyOurs: "an identical
// request won the race"), and waits for its command id to show on the
// token, which never happens. The retry must answer as the first attempt
// did (200, nothing recorded), not an error, and must not change the
// token.
func TestRetriedNoOpExpiryPutAfterAChangeAnswersItsFirstResult(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	first := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	other := time.Now().Add(96 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	for _, tt := range []struct {
		name string
		path func() string // a token expiring at first
	}{
		{"an API token", func() string {
			r := s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", servicetest.AdminSecret,
				map[string]any{"tokenName": "noop-retry", "type": "client", "environment": "development", "expiresAt": first})
			tok, ok := s.Tokens.Lookup(r.JSON(t)["secret"].(string))
			if !ok {
				t.Fatal("the created token is not in the token set")
			}
			return "/api/admin/api-tokens/" + tok.ID
		}},
		{"a user's PAT", func() string {
			u := s.Must(http.StatusCreated, "POST", "/api/admin/user-admin", servicetest.AdminSecret,
				map[string]any{"username": "noopretry", "email": "noopretry@example.com", "rootRole": "Viewer"}).JSON(t)
			uid := fmt.Sprint(int(u["id"].(float64)))
			pat := s.Must(http.StatusCreated, "POST", "/api/admin/user-admin/"+uid+"/tokens", servicetest.AdminSecret,
				map[string]any{"description": "noop-retry", "expiresAt": first}).JSON(t)
			return "/api/admin/user-admin/" + uid + "/tokens/" + fmt.Sprint(int(pat["id"].(float64)))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path()
			const key = "noop-retry-key"
			noop := `{"expiresAt":"` + first + `"}`
			s.Must(http.StatusOK, "PUT", path, servicetest.AdminSecret, noop, "Idempotency-Key", key)
			s.Must(http.StatusOK, "PUT", path, servicetest.AdminSecret, `{"expiresAt":"`+other+`"}`)
			before := s.LastSeq()
			retry := s.Do("PUT", path, servicetest.AdminSecret, noop, "Idempotency-Key", key)
			if retry.Status != http.StatusOK {
				t.Errorf("the retry of a no-op PUT under its key, after another request changed the token: %d, want 200 (its first answer): %.300s",
					retry.Status, retry.Body)
			}
			if after := s.LastSeq(); after != before {
				t.Errorf("the retry of a no-op appended %d events", after-before)
			}
		})
	}
}
