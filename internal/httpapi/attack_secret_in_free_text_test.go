package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A token name or PAT description holding a live secret is now refused
// (noSecretIn: "it is shown to every reader of the audit trail and the
// feed"). Every other free text a request stores is just as public and
// unchecked: a project's name and description, a role's name and
// description, a user's name, username and e-mail, a service account's
// name and username. A live secret pasted there is
// sealed into the stream for good. And the check itself uses scrubSecrets,
// so a non-hex secret (an admin token) in brackets or after "token:" passes
// it in a token name or PAT description too.
func TestFreeTextFieldsNeverStoreALiveSecret(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	live, _ := s.CreateToken("backend", "development") // stays live: the canary
	bare := s.Must(http.StatusCreated, "POST", "/api/admin/user-admin", servicetest.AdminSecret,
		map[string]any{"username": "patowner", "email": "patowner@example.com", "rootRole": "Viewer"}).JSON(t)
	for _, tt := range []struct {
		name, path string
		body       map[string]any
	}{
		{"a token's name quoting the admin secret in brackets", "/api/admin/api-tokens", map[string]any{"tokenName": "[" + servicetest.AdminSecret + "]", "type": "client", "environment": "development"}},
		{"a PAT's description quoting the admin secret after token:", "/api/admin/user-admin/" + fmt.Sprint(int(bare["id"].(float64))) + "/tokens", map[string]any{"description": "token:" + servicetest.AdminSecret, "expiresAt": servicetest.FromNow(24 * time.Hour)}},
		{"a project's description", "/api/admin/projects", map[string]any{"id": "canary-p1", "name": "P1", "description": "ci uses " + live}},
		{"a project's name", "/api/admin/projects", map[string]any{"id": "canary-p2", "name": "ci " + live}},
		{"a role's description", "/api/admin/roles", map[string]any{"name": "canary-role", "type": "root-custom", "description": "ci uses " + live, "permissions": []any{}}},
		{"a user's name", "/api/admin/user-admin", map[string]any{"username": "canaryuser", "email": "canary@example.com", "name": "ci " + live, "rootRole": "Viewer"}},
		{"a user's username", "/api/admin/user-admin", map[string]any{"username": "u" + live, "email": "canary2@example.com", "rootRole": "Viewer"}},
		{"a user's email", "/api/admin/user-admin", map[string]any{"username": "canary3", "email": live + "@example.com", "rootRole": "Viewer"}},
		{"a role's name", "/api/admin/roles", map[string]any{"name": live, "type": "root-custom", "permissions": []any{}}},
		{"a service account's username", "/api/admin/service-account", map[string]any{"name": "canary-sa2", "username": live, "rootRole": "Viewer"}},
		{"a service account's name", "/api/admin/service-account", map[string]any{"name": "ci " + live, "username": "canarysa", "rootRole": "Viewer"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := s.LastSeq()
			r := s.Do("POST", tt.path, servicetest.AdminSecret, tt.body)
			for _, e := range s.Events(before+1, s.LastSeq()) {
				b, err := json.Marshal(e)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(b), live) || strings.Contains(string(b), servicetest.AdminSecret) {
					t.Errorf("the stream's %s at seq %d holds the live secret sent as %s (answer %d)", e.Type, e.Sequence, tt.name, r.Status)
				}
			}
		})
	}
}
