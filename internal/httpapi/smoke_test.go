package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

func TestService_AdminTokenCreatesListsValidatesAndDeletes(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	s.Must(http.StatusOK, "GET", "/ready", "", nil)
	secret, id := s.CreateToken("backend", "production", "default")
	list := s.Must(http.StatusOK, "GET", "/api/admin/api-tokens", servicetest.AdminSecret, nil).JSON(t)
	if n := len(list["tokens"].([]any)); n != 3 {
		t.Fatalf("want 3 tokens (2 admin + 1 backend), got %d", n)
	}
	v := s.Must(http.StatusOK, "POST", "/edge/validate", "", map[string]any{"tokens": []string{secret, "x:y.z"}}).JSON(t)
	if n := len(v["tokens"].([]any)); n != 1 {
		t.Fatalf("edge validate: want 1 valid token, got %d", n)
	}
	s.Must(http.StatusOK, "PUT", "/api/admin/api-tokens/"+id, servicetest.AdminSecret, map[string]any{"expiresAt": "2099-01-01T00:00:00Z"})
	s.Must(http.StatusOK, "DELETE", "/api/admin/api-tokens/"+secret, servicetest.AdminSecret, nil)
	v = s.Must(http.StatusOK, "POST", "/edge/validate", "", map[string]any{"tokens": []string{secret}}).JSON(t)
	if n := len(v["tokens"].([]any)); n != 0 {
		t.Fatalf("a deleted token still validates")
	}
}
