package httpapi_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A DELETE retried with its Idempotency-Key is a replay on every route.

// retriedDelete sends one DELETE twice with one Idempotency-Key and
// checks the README's promise: the retry answers 200 with the first
// result (marked Idempotent-Replayed, same X-Ledger-Sequence) and appends
// nothing.
func retriedDelete(t *testing.T, s *servicetest.Service, path, cred string) {
	t.Helper()
	first := s.Must(http.StatusOK, "DELETE", path, cred, nil, "Idempotency-Key", "retried-delete")
	seq := s.LastSeq()
	again := s.Do("DELETE", path, cred, nil, "Idempotency-Key", "retried-delete")
	if again.Status != http.StatusOK || again.Header.Get("Idempotent-Replayed") != "true" ||
		again.Header.Get("X-Ledger-Sequence") != first.Header.Get("X-Ledger-Sequence") || s.LastSeq() != seq {
		t.Fatalf("retried DELETE %s: status %d, replayed %q, X-Ledger-Sequence %q (first %q), stream %d → %d: %s",
			path, again.Status, again.Header.Get("Idempotent-Replayed"), again.Header.Get("X-Ledger-Sequence"),
			first.Header.Get("X-Ledger-Sequence"), seq, s.LastSeq(), again.Body)
	}
}

func firstPATID(t *testing.T, s *servicetest.Service, listPath, cred string) string {
	t.Helper()
	pats := s.Must(http.StatusOK, "GET", listPath, cred, nil).JSON(t)["pats"].([]any)
	if len(pats) == 0 {
		t.Fatalf("no PATs at %s", listPath)
	}
	return strconv.FormatUint(uint64(pats[0].(map[string]any)["id"].(float64)), 10)
}

func TestRetry_DeleteOfProjectTokenIsReplayed(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "rv2"})
	r := s.Must(http.StatusCreated, "POST", "/api/admin/projects/rv2/api-tokens", servicetest.AdminSecret,
		map[string]any{"tokenName": "pt", "type": "backend", "environment": "development"})
	tok, _ := s.Tokens.Lookup(r.JSON(t)["secret"].(string))
	retriedDelete(t, s, "/api/admin/projects/rv2/api-tokens/"+tok.ID, servicetest.AdminSecret)
}

func TestRetry_DeleteOfServiceAccountTokenIsReplayed(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	sa := s.CreateServiceAccount("rv2-bot", "Viewer")
	base := "/api/admin/service-account/" + strconv.Itoa(sa.IntID) + "/token"
	retriedDelete(t, s, base+"/"+firstPATID(t, s, base, servicetest.AdminSecret), servicetest.AdminSecret)
}

func TestRetry_AdminDeleteOfUserPATIsReplayed(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	u := s.CreateUser("rv2-user", "Viewer")
	base := "/api/admin/user-admin/" + strconv.Itoa(u.IntID) + "/tokens"
	retriedDelete(t, s, base+"/"+firstPATID(t, s, base, servicetest.AdminSecret), servicetest.AdminSecret)
}

func TestRetry_DeleteOfEnvironmentIsReplayed(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	s.Must(http.StatusCreated, "POST", "/api/admin/environments", servicetest.AdminSecret, map[string]any{"name": "rv2env"})
	s.CreateToken("backend", "rv2env")
	retriedDelete(t, s, "/api/admin/environments/rv2env", servicetest.AdminSecret)
}

func TestRetry_DeleteOfAPITokenIsReplayed(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	_, id := s.CreateToken("backend", "development")
	retriedDelete(t, s, "/api/admin/api-tokens/"+id, servicetest.AdminSecret)
}

func TestRetry_DeleteOfOwnPATIsReplayed(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	u := s.CreateUser("rv2-own", "Viewer")
	s.Must(http.StatusCreated, "POST", "/api/admin/user/tokens", u.Secret, map[string]any{"description": "second", "expiresAt": servicetest.FromNow(24 * time.Hour)})
	pats := s.Must(http.StatusOK, "GET", "/api/admin/user/tokens", u.Secret, nil).JSON(t)["pats"].([]any)
	var id string
	for _, p := range pats {
		if p.(map[string]any)["description"] == "second" {
			id = strconv.FormatUint(uint64(p.(map[string]any)["id"].(float64)), 10)
		}
	}
	retriedDelete(t, s, "/api/admin/user/tokens/"+id, u.Secret)
}

// A retried project delete answers the first attempt's X-Ledger-Sequence,
// the last event of its batch, although the tokens it revoked are no longer
// live: a client passing it as X-Ledger-Min-Sequence to another node never
// reads them as live.
func TestRetry_ProjectDeleteReportsTheFirstAttemptsSequence(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "rv2p"})
	s.CreateToken("backend", "development", "rv2p")
	s.CreateToken("client", "development", "rv2p")
	retriedDelete(t, s, "/api/admin/projects/rv2p", servicetest.AdminSecret)
}

// Bodies under an Idempotency-Key: chunked bodies still work and are
// recognised on retry, oversized ones still answer 413, a GET with a key
// is unaffected.
func TestRetry_HashingTheBodyKeepsBodiesWorking(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	chunked := func(body string) servicetest.Response {
		req, err := http.NewRequest("POST", s.URL()+"/api/admin/api-tokens", io.MultiReader(strings.NewReader(body)))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = -1 // chunked
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", servicetest.AdminSecret)
		req.Header.Set("Idempotency-Key", "chunked")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return servicetest.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	}
	body := `{"tokenName":"chunky","type":"backend","environment":"development"}`
	if r := chunked(body); r.Status != http.StatusCreated {
		t.Fatalf("chunked create: %d %s", r.Status, r.Body)
	}
	if r := chunked(body); r.Status != http.StatusOK || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("chunked retry: %d %s", r.Status, r.Body)
	}
	big := `{"tokenName":"` + strings.Repeat("a", 70<<10) + `","type":"backend","environment":"development"}`
	if r := s.Do("POST", "/api/admin/api-tokens", servicetest.AdminSecret, []byte(big), "Idempotency-Key", "big"); r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body with a key: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/api/admin/api-tokens", servicetest.AdminSecret, nil, "Idempotency-Key", "get"); r.Status != http.StatusOK {
		t.Fatalf("GET with a key: %d %s", r.Status, r.Body)
	}
}
