package main

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// Concurrent creates of one unique name through the API: exactly one 201,
// every other answer 409 with the error shape, none 5xx.
func TestUniqueNames_ConcurrentCreatesThroughTheAPI(t *testing.T) {
	s := startService(t, "", nil)
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
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 8
			statuses := make([]response, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[i] = s.do("POST", tt.path, adminSecret, tt.body(i))
				}()
			}
			wg.Wait()
			created := 0
			for _, r := range statuses {
				switch r.Status {
				case http.StatusCreated:
					created++
				case http.StatusConflict:
					checkErrorShape(t, r)
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
