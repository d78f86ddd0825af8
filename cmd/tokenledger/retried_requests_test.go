package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Found by the review of idempotency keys over HTTP; each test failed
// before its fix and now guards it.

// retriedDelete sends one DELETE twice with one Idempotency-Key and
// checks the README's promise: the retry answers 200 with the first
// result (marked Idempotent-Replayed, same X-Ledger-Sequence) and appends
// nothing.
func retriedDelete(t *testing.T, s *testService, path, cred string) {
	t.Helper()
	first := s.must(http.StatusOK, "DELETE", path, cred, nil, "Idempotency-Key", "review2-del")
	seq := s.lastSeq()
	again := s.do("DELETE", path, cred, nil, "Idempotency-Key", "review2-del")
	if again.Status != http.StatusOK || again.Header.Get("Idempotent-Replayed") != "true" ||
		again.Header.Get("X-Ledger-Sequence") != first.Header.Get("X-Ledger-Sequence") || s.lastSeq() != seq {
		t.Fatalf("retried DELETE %s: status %d, replayed %q, X-Ledger-Sequence %q (first %q), stream %d → %d: %s",
			path, again.Status, again.Header.Get("Idempotent-Replayed"), again.Header.Get("X-Ledger-Sequence"),
			first.Header.Get("X-Ledger-Sequence"), seq, s.lastSeq(), again.Body)
	}
}

func firstPATID(t *testing.T, s *testService, listPath, cred string) string {
	t.Helper()
	pats := s.must(http.StatusOK, "GET", listPath, cred, nil).JSON(t)["pats"].([]any)
	if len(pats) == 0 {
		t.Fatalf("no PATs at %s", listPath)
	}
	return itoa(uint64(pats[0].(map[string]any)["id"].(float64)))
}

func TestRetry_DeleteOfProjectTokenIsReplayed(t *testing.T) {
	s := startService(t, "", nil)
	s.must(http.StatusCreated, "POST", "/api/admin/projects", adminSecret, map[string]any{"id": "rv2"})
	r := s.must(http.StatusCreated, "POST", "/api/admin/projects/rv2/api-tokens", adminSecret,
		map[string]any{"tokenName": "pt", "type": "backend", "environment": "development"})
	tok, _ := s.Tokens.Lookup(r.JSON(t)["secret"].(string))
	retriedDelete(t, s, "/api/admin/projects/rv2/api-tokens/"+tok.ID, adminSecret)
}

func TestRetry_DeleteOfServiceAccountTokenIsReplayed(t *testing.T) {
	s := startService(t, "", nil)
	sa := s.createServiceAccount("rv2-bot", "Viewer")
	base := "/api/admin/service-account/" + itoaInt(sa.IntID) + "/token"
	retriedDelete(t, s, base+"/"+firstPATID(t, s, base, adminSecret), adminSecret)
}

func TestRetry_AdminDeleteOfUserPATIsReplayed(t *testing.T) {
	s := startService(t, "", nil)
	u := s.createUser("rv2-user", "Viewer")
	base := "/api/admin/user-admin/" + itoaInt(u.IntID) + "/tokens"
	retriedDelete(t, s, base+"/"+firstPATID(t, s, base, adminSecret), adminSecret)
}

func TestRetry_DeleteOfEnvironmentIsReplayed(t *testing.T) {
	s := startService(t, "", nil)
	s.must(http.StatusCreated, "POST", "/api/admin/environments", adminSecret, map[string]any{"name": "rv2env"})
	s.createToken("backend", "rv2env")
	retriedDelete(t, s, "/api/admin/environments/rv2env", adminSecret)
}

func TestRetry_DeleteOfAPITokenIsReplayed(t *testing.T) {
	s := startService(t, "", nil)
	_, id := s.createToken("backend", "development")
	retriedDelete(t, s, "/api/admin/api-tokens/"+id, adminSecret)
}

func TestRetry_DeleteOfOwnPATIsReplayed(t *testing.T) {
	s := startService(t, "", nil)
	u := s.createUser("rv2-own", "Viewer")
	s.must(http.StatusCreated, "POST", "/api/admin/user/tokens", u.Secret, map[string]any{"description": "second", "expiresAt": fromNow(24 * time.Hour)})
	pats := s.must(http.StatusOK, "GET", "/api/admin/user/tokens", u.Secret, nil).JSON(t)["pats"].([]any)
	var id string
	for _, p := range pats {
		if p.(map[string]any)["description"] == "second" {
			id = itoa(uint64(p.(map[string]any)["id"].(float64)))
		}
	}
	retriedDelete(t, s, "/api/admin/user/tokens/"+id, u.Secret)
}

// A retried project delete: the handler lists the project's live tokens
// again, the first attempt revoked them, so the replay cannot find the
// batch's last event and answers an earlier X-Ledger-Sequence (a client
// that passes it as X-Ledger-Min-Sequence to another node may read the
// revoked tokens as live).
func TestRetry_ProjectDeleteReportsTheFirstAttemptsSequence(t *testing.T) {
	s := startService(t, "", nil)
	s.must(http.StatusCreated, "POST", "/api/admin/projects", adminSecret, map[string]any{"id": "rv2p"})
	s.createToken("backend", "development", "rv2p")
	s.createToken("client", "development", "rv2p")
	retriedDelete(t, s, "/api/admin/projects/rv2p", adminSecret)
}

// Bodies under an Idempotency-Key: chunked bodies still work and are
// recognised on retry, oversized ones still answer 413, a GET with a key
// is unaffected. (Passes: no defect found here.)
func TestRetry_HashingTheBodyKeepsBodiesWorking(t *testing.T) {
	s := startService(t, "", nil)
	chunked := func(body string) response {
		req, err := http.NewRequest("POST", s.URL()+"/api/admin/api-tokens", io.MultiReader(strings.NewReader(body)))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = -1 // chunked
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", adminSecret)
		req.Header.Set("Idempotency-Key", "chunked")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	}
	body := `{"tokenName":"chunky","type":"backend","environment":"development"}`
	if r := chunked(body); r.Status != http.StatusCreated {
		t.Fatalf("chunked create: %d %s", r.Status, r.Body)
	}
	if r := chunked(body); r.Status != http.StatusOK || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("chunked retry: %d %s", r.Status, r.Body)
	}
	big := `{"tokenName":"` + strings.Repeat("a", 70<<10) + `","type":"backend","environment":"development"}`
	if r := s.do("POST", "/api/admin/api-tokens", adminSecret, []byte(big), "Idempotency-Key", "big"); r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body with a key: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/api/admin/api-tokens", adminSecret, nil, "Idempotency-Key", "get"); r.Status != http.StatusOK {
		t.Fatalf("GET with a key: %d %s", r.Status, r.Body)
	}
}
