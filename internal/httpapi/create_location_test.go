package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A 201's Location names the resource the request created (RFC 9110
// §10.2.2), and the issue asks that a client find a new token's id "from
// the create answer or its Location header". Every token create's
// Location must therefore resolve, against the request's URL, to a route
// that answers GET for the token's creator.
func TestTokenCreateLocationAnswersGETForItsCreator(t *testing.T) {
	svc := servicetest.Start(t, "", nil)
	svc.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "loc", "name": "loc"})
	member := svc.CreateUser("loc-member", "Viewer")
	svc.Must(http.StatusOK, "POST", fmt.Sprintf("/api/admin/projects/loc/users/%d/roles/4", member.IntID), servicetest.AdminSecret, nil)
	editor := svc.CreateUser("loc-editor", "Editor")
	fresh := int(svc.Must(http.StatusCreated, "POST", "/api/admin/user-admin", servicetest.AdminSecret,
		map[string]any{"username": "loc-fresh", "rootRole": "Viewer"}).JSON(t)["id"].(float64))
	tests := []struct {
		name, cred, path string
		body             map[string]any
	}{
		{"API token by the admin token", servicetest.AdminSecret, "/api/admin/api-tokens",
			map[string]any{"tokenName": "l1", "type": "backend", "environment": "development", "projects": []string{"default"}}},
		{"project token by a project owner", member.Secret, "/api/admin/projects/loc/api-tokens",
			map[string]any{"tokenName": "l2", "type": "CLIENT", "environment": "development", "projects": []string{"loc"}}},
		{"PAT by its user", editor.Secret, "/api/admin/user/tokens",
			map[string]any{"description": "l3", "expiresAt": "2030-01-01T00:00:00Z"}},
		{"PAT on behalf, by the admin token", servicetest.AdminSecret, fmt.Sprintf("/api/admin/user-admin/%d/tokens", fresh),
			map[string]any{"description": "l4", "expiresAt": "2030-01-01T00:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := svc.Do("POST", tt.path, tt.cred, tt.body)
			if r.Status != http.StatusCreated {
				t.Fatalf("create: %d %s", r.Status, r.Body)
			}
			loc := r.Header.Get("Location")
			ref, err := url.Parse(loc)
			if loc == "" || err != nil {
				t.Fatalf("Location %q", loc)
			}
			base, _ := url.Parse(svc.URL() + tt.path)
			target := base.ResolveReference(ref)
			got := svc.Do("GET", target.RequestURI(), tt.cred, nil)
			if got.Status != http.StatusOK {
				t.Fatalf("Location %q resolves to %s, which answers the creator %d: %s", loc, target.RequestURI(), got.Status, got.Body)
			}
		})
	}
}
