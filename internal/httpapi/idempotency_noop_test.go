package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// TestRetryOfANoOpChangeAnswersAsItsFirstAttempt: a PUT that changed
// nothing (the expiry the token already had) claims its Idempotency-Key;
// when the token changes meanwhile, the retry of that PUT, byte for byte,
// answers 200 as the first attempt did and changes nothing (it does not
// now apply the old expiry, nor fail for its own key).
func TestRetryOfANoOpChangeAnswersAsItsFirstAttempt(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	first := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	other := first.Add(48 * time.Hour)
	r := s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", servicetest.AdminSecret,
		map[string]any{"tokenName": "noop-retry", "type": "client", "environment": "development", "expiresAt": first.Format(time.RFC3339)})
	tok, ok := s.Tokens.Lookup(r.JSON(t)["secret"].(string))
	if !ok {
		t.Fatal("the created token is not in the token set")
	}
	path := "/api/admin/api-tokens/" + tok.ID
	noop := `{"expiresAt":"` + first.Format(time.RFC3339) + `"}`
	s.Must(http.StatusOK, "PUT", path, servicetest.AdminSecret, noop, "Idempotency-Key", "noop-retry-key")
	s.Must(http.StatusOK, "PUT", path, servicetest.AdminSecret, `{"expiresAt":"`+other.Format(time.RFC3339)+`"}`)
	before := s.LastSeq()
	if got := s.Do("PUT", path, servicetest.AdminSecret, noop, "Idempotency-Key", "noop-retry-key"); got.Status != http.StatusOK {
		t.Fatalf("the retry of a no-op PUT: status %d, want 200: %s", got.Status, got.Body)
	}
	if s.LastSeq() != before {
		t.Errorf("the retry of a no-op PUT appended %d events", s.LastSeq()-before)
	}
	if tok, _ = s.Tokens.ByID(tok.ID); !tok.ExpiresAt.Equal(other) {
		t.Errorf("the token's expiry is %v after the retry, want the later change's %v", tok.ExpiresAt, other)
	}
}
