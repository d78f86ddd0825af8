package httpapi_test

import (
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// noSecretIn looks a name's words up in the token set whole, and the parts
// either side of their colons: a letter or digit typed next to an admin or
// imported secret ("x<secret>", "<secret>2") makes one word that no token
// holds, and the name is stored with the secret whole in it (a generated
// secret is caught by its 64 hex digits). Invisible characters next to a
// secret are refused today (the first three cases guard that).
func TestACharacterNextToASecretDoesNotHideItFromTheNameCheck(t *testing.T) {
	s := servicetest.StartWith(t, "", map[string]string{"INIT_BACKEND_API_TOKENS": initBackendSecret},
		func(c *service.Config) { c.MutationRate = 0 })
	admin := servicetest.AdminSecret
	for _, tt := range []struct {
		name, path string
		body       map[string]any
		canary     string
	}{
		{"the admin secret after U+200B in a token name", "/api/admin/api-tokens",
			map[string]any{"tokenName": "ci\u200b" + admin, "type": "client", "environment": "development"}, admin},
		{"an imported secret after U+2060 in a project name", "/api/admin/projects",
			map[string]any{"id": "r13-p1", "name": "ci\u2060" + initBackendSecret}, initBackendSecret},
		{"the admin secret before U+FEFF in a project description", "/api/admin/projects",
			map[string]any{"id": "r13-p2", "name": "P2", "description": "uses " + admin + "\ufeffnow"}, admin},
		{"an imported secret after a letter in a token name", "/api/admin/api-tokens",
			map[string]any{"tokenName": "x" + initBackendSecret, "type": "client", "environment": "development"}, initBackendSecret},
		{"the admin secret before a digit in a project name", "/api/admin/projects",
			map[string]any{"id": "r13-p3", "name": admin + "2"}, admin},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := s.LastSeq()
			r := s.Do("POST", tt.path, admin, tt.body)
			if r.Status >= 500 {
				t.Fatalf("status %d: %.300s", r.Status, r.Body)
			}
			for _, at := range eventsHolding(t, s, before, tt.canary) {
				t.Errorf("the stream's %s holds the live secret sent as %s (answer %d)", at, tt.name, r.Status)
			}
		})
	}
}
