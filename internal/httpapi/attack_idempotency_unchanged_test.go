package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The README: "a retry with the same key creates nothing new and answers
// 200 with the first result; the same key sent with a different request
// answers 422 and appends nothing. This holds for every mutation: the
// first command with a key claims it in the stream." A PUT of a token's
// expiry to the expiry it already has is answered 200 (ErrUnchanged) and
// claims nothing, so its key stays free: a different request under that
// key is then applied (200, not 422), and the retry of the first request,
// byte for byte, is refused with 422 IdempotencyKeyReusedError although
// its first attempt was answered 200.
func TestIdempotencyKeyOfANoOpExpiryPutIsClaimedLikeAnyOther(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	first := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	other := time.Now().Add(96 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	r := s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", servicetest.AdminSecret,
		map[string]any{"tokenName": "noop-key", "type": "client", "environment": "development", "expiresAt": first})
	secret := r.JSON(t)["secret"].(string)
	tok, ok := s.Tokens.Lookup(secret)
	if !ok {
		t.Fatal("the created token is not in the token set")
	}
	path := "/api/admin/api-tokens/" + tok.ID
	const key = "noop-expiry-key"
	noop := `{"expiresAt":"` + first + `"}`
	change := `{"expiresAt":"` + other + `"}`

	got := []int{
		// 1: the expiry the token already has, under the key.
		s.Do("PUT", path, servicetest.AdminSecret, noop, "Idempotency-Key", key).Status,
		// 2: a different request under the same key.
		s.Do("PUT", path, servicetest.AdminSecret, change, "Idempotency-Key", key).Status,
		// 3: the retry of request 1, byte for byte.
		s.Do("PUT", path, servicetest.AdminSecret, noop, "Idempotency-Key", key).Status,
	}
	want := []int{http.StatusOK, http.StatusUnprocessableEntity, http.StatusOK}
	if got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		tok, _ = s.Tokens.ByID(tok.ID)
		t.Fatalf("no-op PUT, different PUT, retry of the no-op under one Idempotency-Key: statuses %v, want %v "+
			"(the token's expiry is now %v)", got, want, tok.ExpiresAt)
	}
}
