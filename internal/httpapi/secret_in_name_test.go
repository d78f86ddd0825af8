package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// TestTokenNameHoldingASecretIsRefused: a token's name and a PAT's
// description go to the stream, the audit trail and the readers' feed; one
// that holds a token's secret (a live one, or any run of hex as long as a
// secret's) is a 400 that appends nothing, while ordinary names, a git
// SHA-1 among them, are accepted.
func TestTokenNameHoldingASecretIsRefused(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	live, _ := s.CreateToken("backend", "development")
	viewer := s.CreateUser("namer", "Viewer")
	expires := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	apiToken := func(name string) (string, string, any) {
		return "/api/admin/api-tokens", servicetest.AdminSecret, map[string]any{"tokenName": name, "type": "client", "environment": "development"}
	}
	pat := func(name string) (string, string, any) {
		return "/api/admin/user/tokens", viewer.Secret, map[string]any{"description": name, "expiresAt": expires}
	}
	for _, tt := range []struct {
		name string
		req  func(string) (string, string, any)
		text string
		want int
	}{
		{"API token named after a live secret", apiToken, "copy of " + live, http.StatusBadRequest},
		{"API token named with a PAT-shaped secret", apiToken, "ci user:" + strings.Repeat("ab12", 16), http.StatusBadRequest},
		{"PAT described by a live secret", pat, "backup of " + live, http.StatusBadRequest},
		{"API token named after a git SHA-1", apiToken, "deploy 3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39", http.StatusCreated},
		{"PAT with an ordinary description", pat, "laptop cli", http.StatusCreated},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path, cred, body := tt.req(tt.text)
			before := s.LastSeq()
			r := s.Do("POST", path, cred, body)
			if r.Status != tt.want {
				t.Fatalf("status %d, want %d: %.300s", r.Status, tt.want, r.Body)
			}
			if tt.want == http.StatusBadRequest && s.LastSeq() != before {
				t.Errorf("a refused create appended %d events", s.LastSeq()-before)
			}
		})
	}
}
