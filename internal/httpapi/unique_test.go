package httpapi_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// Concurrent creates of one unique name through the API: exactly one 201,
// every other answer 409 with the error shape, none 5xx.
func TestUniqueNames_ConcurrentCreatesThroughTheAPI(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	tests := []struct {
		name string
		path string
		body func(i int) map[string]any
	}{
		{"users_with_one_username", "/api/admin/user-admin", func(i int) map[string]any {
			return map[string]any{"username": "frank", "email": fmt.Sprintf("frank%d@example.com", i), "rootRole": "Viewer"}
		}},
		{"users_with_one_email", "/api/admin/user-admin", func(i int) map[string]any {
			return map[string]any{"username": fmt.Sprintf("grace%d", i), "email": "Grace@Example.com", "rootRole": "Viewer"}
		}},
		{"service_accounts_with_one_username", "/api/admin/service-account", func(i int) map[string]any {
			return map[string]any{"name": "deploy", "username": "deploy-bot", "rootRole": "Viewer"}
		}},
		{"roles_with_one_name", "/api/admin/roles", func(i int) map[string]any {
			return map[string]any{"name": "Backend operators", "type": "root-custom", "permissions": []map[string]string{{"name": "READ_CLIENT_API_TOKEN"}}}
		}},
	}
	user := s.CreateUser("henry", "Viewer")
	tests = append(tests, struct {
		name string
		path string
		body func(i int) map[string]any
	}{"pats_with_one_description", "/api/admin/user/tokens", func(int) map[string]any {
		return map[string]any{"description": "ci", "expiresAt": "2099-01-01T00:00:00Z"}
	}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred := servicetest.AdminSecret
			if tt.name == "pats_with_one_description" {
				cred = user.Secret
			}
			const n = 8
			statuses := make([]servicetest.Response, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[i] = s.Do("POST", tt.path, cred, tt.body(i))
				}()
			}
			wg.Wait()
			created := 0
			for _, r := range statuses {
				switch r.Status {
				case http.StatusCreated:
					created++
				case http.StatusConflict:
					servicetest.CheckErrorShape(t, r)
				default:
					t.Fatalf("status %d: %s", r.Status, r.Body)
				}
			}
			if created != 1 {
				t.Fatalf("%d of %d concurrent creates succeeded, want exactly 1", created, n)
			}
		})
	}
}

// An Idempotency-Key makes a retried create harmless (200, nothing new);
// the same key sent with a different request is refused with 422 and
// appends nothing.
func TestIdempotencyKey_ReusedWithAnotherRequestIs422(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	tests := []struct {
		name        string
		path        string
		first, then map[string]any
	}{
		{"api_token", "/api/admin/api-tokens",
			map[string]any{"tokenName": "k1", "type": "backend", "environment": "development"},
			map[string]any{"tokenName": "k1", "type": "frontend", "environment": "development"}},
		{"user", "/api/admin/user-admin",
			map[string]any{"username": "ivy", "rootRole": "Viewer"},
			map[string]any{"username": "ivy2", "rootRole": "Viewer"}},
		{"role", "/api/admin/roles",
			map[string]any{"name": "key role", "type": "root-custom", "permissions": []map[string]string{{"name": "READ_CLIENT_API_TOKEN"}}},
			map[string]any{"name": "key role", "type": "root-custom", "permissions": []map[string]string{{"name": "READ_FRONTEND_API_TOKEN"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "key-" + tt.name
			first := s.Must(http.StatusCreated, "POST", tt.path, servicetest.AdminSecret, tt.first, "Idempotency-Key", key)
			seq := s.LastSeq()
			again := s.Must(http.StatusOK, "POST", tt.path, servicetest.AdminSecret, tt.first, "Idempotency-Key", key)
			if again.Header.Get("Idempotent-Replayed") != "true" || s.LastSeq() != seq {
				t.Fatalf("a retry appended (stream %d → %d) or was not marked as replayed", seq, s.LastSeq())
			}
			// The resource's id: "id", or for API tokens the token id (the
			// first answer holds the full secret, the replay only the id).
			id := func(r servicetest.Response) string {
				j := r.JSON(t)
				if v, ok := j["id"]; ok {
					return fmt.Sprint(v)
				}
				if tok, ok := s.Tokens.Lookup(j["secret"].(string)); ok {
					return tok.ID
				}
				return j["secret"].(string)
			}
			if id(first) == "" || id(first) != id(again) {
				t.Fatalf("the retry answered another resource: %s vs %s", first.Body, again.Body)
			}
			r := s.Do("POST", tt.path, servicetest.AdminSecret, tt.then, "Idempotency-Key", key)
			if r.Status != http.StatusUnprocessableEntity || s.LastSeq() != seq {
				t.Fatalf("key reused with another body: status %d, stream %d → %d: %s", r.Status, seq, s.LastSeq(), r.Body)
			}
			servicetest.CheckErrorShape(t, r)
		})
	}
}
