package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// Every name refuses control characters, format characters such as
// bidirectional overrides, and blank values, with a 400 that names the
// field and appends nothing; padded and bare names are one unique name.
func TestNames_RejectControlFormatAndBlankCharacters(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	u := s.CreateUser("namer", "Viewer")
	s.CreateServiceAccount("name-bot", "Viewer")

	bad := map[string]string{"nul": "a\x00b", "esc": "red\x1b[31m", "rlo": "invoice\u202Efdp.exe", "lri": "x\u2066y",
		"lrm": "x\u200Ey", "bom": "\uFEFFadmin", "line_separator": "a\u2028b", "blank": "   "}
	routes := []struct {
		name, method, path, cred, field string
		body                            func(v string) map[string]any
	}{
		{"username", "POST", "/api/admin/user-admin", servicetest.AdminSecret, "username", func(v string) map[string]any {
			return map[string]any{"username": v, "rootRole": "Viewer"}
		}},
		{"user_name", "POST", "/api/admin/user-admin", servicetest.AdminSecret, "name", func(v string) map[string]any {
			return map[string]any{"username": "fine-user", "name": v, "rootRole": "Viewer"}
		}},
		{"email", "POST", "/api/admin/user-admin", servicetest.AdminSecret, "email", func(v string) map[string]any {
			return map[string]any{"email": "a" + strings.TrimSpace(v) + "@example.com", "rootRole": "Viewer"}
		}},
		{"role_name", "POST", "/api/admin/roles", servicetest.AdminSecret, "name", func(v string) map[string]any {
			return map[string]any{"name": v, "type": "root-custom", "permissions": []map[string]string{{"name": "READ_CLIENT_API_TOKEN"}}}
		}},
		{"token_name", "POST", "/api/admin/api-tokens", servicetest.AdminSecret, "tokenName", func(v string) map[string]any {
			return map[string]any{"tokenName": v, "type": "backend", "environment": "development"}
		}},
		{"pat_description", "POST", "/api/admin/user/tokens", u.Secret, "description", func(v string) map[string]any {
			return map[string]any{"description": v, "expiresAt": servicetest.FromNow(48 * time.Hour)}
		}},
		{"project_name", "POST", "/api/admin/projects", servicetest.AdminSecret, "name", func(v string) map[string]any {
			return map[string]any{"id": "named", "name": v}
		}},
		{"service_account_username", "POST", "/api/admin/service-account", servicetest.AdminSecret, "username", func(v string) map[string]any {
			return map[string]any{"name": "fine", "username": v, "rootRole": "Viewer"}
		}},
	}
	for _, rt := range routes {
		for what, v := range bad {
			if rt.field == "email" && what == "blank" {
				continue // an address with the spaces trimmed is a fine address
			}
			t.Run(rt.name+"/"+what, func(t *testing.T) {
				r := s.For(t).MustRefuse(http.StatusBadRequest, rt.method, rt.path, rt.cred, rt.body(v))
				if !strings.Contains(string(r.Body), `"path":"`+rt.field+`"`) {
					t.Fatalf("the error does not name %s: %s", rt.field, r.Body)
				}
			})
		}
	}
	t.Run("padded_and_bare_usernames_are_one_name", func(t *testing.T) {
		s.Must(http.StatusCreated, "POST", "/api/admin/user-admin", servicetest.AdminSecret, map[string]any{"username": "ann", "rootRole": "Viewer"})
		s.Must(http.StatusConflict, "POST", "/api/admin/user-admin", servicetest.AdminSecret, map[string]any{"username": "  ann ", "rootRole": "Viewer"})
	})
}
