package service

import (
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
)

// On a genuine ledger started from its snapshot, every kind of aggregate
// a command reads (role, user, service account, project, environment,
// token, name claims) must still be changed and deleted while the
// whole-log check is pending: the chain check of a command's read must
// not refuse (503) an untampered history.
func TestGenuineAggregatesOfEveryKindAreChangedWhileTheWholeLogCheckIsPending(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	m0, _ := startLedger(t, dir, 4)
	id := func(o map[string]any) string { f, _ := o["id"].(float64); return fmt.Sprint(uint64(f)) }
	mk := func(path string, body map[string]any) map[string]any {
		t.Helper()
		st, out := call(t, m0, "POST", path, body)
		if st != http.StatusCreated && st != http.StatusOK {
			t.Fatalf("POST %s: %d %v", path, st, out)
		}
		return out
	}
	role := mk("/api/admin/roles", map[string]any{"name": "w-role", "type": "custom", "permissions": []any{}})
	user := mk("/api/admin/user-admin", map[string]any{"username": "wuser", "email": "w@example.com", "rootRole": "Viewer"})
	sa := mk("/api/admin/service-account", map[string]any{"name": "wsa", "username": "wsa", "rootRole": "Viewer"})
	mk("/api/admin/projects", map[string]any{"id": "w-proj", "name": "W project"})
	mk("/api/admin/environments", map[string]any{"name": "w-env", "type": "test"})
	tok := mk("/api/admin/api-tokens", map[string]any{"tokenName": "w-tok", "type": "backend", "environment": "development"})
	tokenLife(t, m0, "after")
	if err := m0.Close(); err != nil {
		t.Fatal(err)
	}

	m, _, release := startChecked(t, dir, true, true)
	defer release()
	for _, r := range []struct {
		method, path string
		body         any
	}{
		{"PUT", "/api/admin/roles/" + id(role), map[string]any{"name": "w-role-2", "permissions": []any{}}},
		{"PUT", "/api/admin/user-admin/" + id(user), map[string]any{"rootRole": "Editor"}},
		{"PUT", "/api/admin/service-account/" + id(sa), map[string]any{"name": "wsa-2"}},
		{"PUT", "/api/admin/projects/w-proj", map[string]any{"name": "W project 2"}},
		{"PUT", "/api/admin/environments/update/w-env", map[string]any{"type": "production"}},
		{"POST", "/api/admin/api-tokens", map[string]any{"tokenName": "w-tok-2", "type": "backend", "environment": "w-env"}},
		{"DELETE", "/api/admin/api-tokens/" + tok["secret"].(string), nil},
		{"DELETE", "/api/admin/service-account/" + id(sa), nil},
		{"DELETE", "/api/admin/user-admin/" + id(user), nil},
		{"DELETE", "/api/admin/roles/" + id(role), nil},
		{"DELETE", "/api/admin/projects/w-proj", nil},
	} {
		st, b := text(t, m, r.method, r.path, r.body)
		t.Logf("%s %s: %d %.120s", r.method, r.path, st, b)
		if st == http.StatusServiceUnavailable || st >= 500 {
			t.Errorf("%s %s on the genuine ledger while the check is pending: %d %.300s", r.method, r.path, st, b)
		}
	}
}
