package main

import (
	"net/http"
	"testing"
)

func TestService_AdminTokenCreatesListsValidatesAndDeletes(t *testing.T) {
	s := startService(t, "", nil)
	s.must(http.StatusOK, "GET", "/ready", "", nil)
	secret, id := s.createToken("backend", "production", "default")
	list := s.must(http.StatusOK, "GET", "/api/admin/api-tokens", adminSecret, nil).JSON(t)
	if n := len(list["tokens"].([]any)); n != 3 {
		t.Fatalf("want 3 tokens (2 admin + 1 backend), got %d", n)
	}
	v := s.must(http.StatusOK, "POST", "/edge/validate", "", map[string]any{"tokens": []string{secret, "x:y.z"}}).JSON(t)
	if n := len(v["tokens"].([]any)); n != 1 {
		t.Fatalf("edge validate: want 1 valid token, got %d", n)
	}
	s.must(http.StatusOK, "PUT", "/api/admin/api-tokens/"+id, adminSecret, map[string]any{"expiresAt": "2099-01-01T00:00:00Z"})
	s.must(http.StatusOK, "DELETE", "/api/admin/api-tokens/"+secret, adminSecret, nil)
	v = s.must(http.StatusOK, "POST", "/edge/validate", "", map[string]any{"tokens": []string{secret}}).JSON(t)
	if n := len(v["tokens"].([]any)); n != 0 {
		t.Fatalf("a deleted token still validates")
	}
}
