package service

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/tokenledger/tokenledger/events"
)

// An attacker deletes, in the stopped data dir, the one change record of
// an aggregate of each kind (role, user, service account, project,
// environment; one the snapshot covers). While the whole-log check is
// pending, a command that changes the aggregate back to its first value
// folds a history without the change: it must be refused (503) and append
// nothing.
func TestChangeBackOnAnAggregateMissingItsChangeIsRefusedWhileTheWholeLogCheckIsPending(t *testing.T) {
	for _, c := range []struct {
		kind, typ string
		create    string
		body      map[string]any
		change    func(id string) (string, map[string]any)
		back      func(id string) (string, map[string]any)
	}{
		{"role", events.TypeRoleUpdated, "/api/admin/roles", map[string]any{"name": "d-role", "type": "custom", "permissions": []any{}},
			func(id string) (string, map[string]any) {
				return "/api/admin/roles/" + id, map[string]any{"name": "d-role-2", "permissions": []any{}}
			},
			func(id string) (string, map[string]any) {
				return "/api/admin/roles/" + id, map[string]any{"name": "d-role", "permissions": []any{}}
			}},
		{"user", events.TypeUserRoleChanged, "/api/admin/user-admin", map[string]any{"username": "duser", "email": "d@example.com", "rootRole": "Viewer"},
			func(id string) (string, map[string]any) {
				return "/api/admin/user-admin/" + id, map[string]any{"rootRole": "Editor"}
			},
			func(id string) (string, map[string]any) {
				return "/api/admin/user-admin/" + id, map[string]any{"rootRole": "Viewer"}
			}},
		{"serviceaccount", events.TypeServiceAccountUpdated, "/api/admin/service-account", map[string]any{"name": "dsa", "username": "dsa", "rootRole": "Viewer"},
			func(id string) (string, map[string]any) {
				return "/api/admin/service-account/" + id, map[string]any{"name": "dsa-2"}
			},
			func(id string) (string, map[string]any) {
				return "/api/admin/service-account/" + id, map[string]any{"name": "dsa"}
			}},
		{"project", events.TypeProjectUpdated, "/api/admin/projects", map[string]any{"id": "d-proj", "name": "D project"},
			func(string) (string, map[string]any) {
				return "/api/admin/projects/d-proj", map[string]any{"name": "D project 2"}
			},
			func(string) (string, map[string]any) {
				return "/api/admin/projects/d-proj", map[string]any{"name": "D project"}
			}},
		{"environment", events.TypeEnvironmentUpdated, "/api/admin/environments", map[string]any{"name": "d-env", "type": "test"},
			func(string) (string, map[string]any) {
				return "/api/admin/environments/update/d-env", map[string]any{"type": "production"}
			},
			func(string) (string, map[string]any) {
				return "/api/admin/environments/update/d-env", map[string]any{"type": "test"}
			}},
	} {
		t.Run(c.kind, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			m0, _ := startLedger(t, dir, 4)
			st, out := call(t, m0, "POST", c.create, c.body)
			if st != http.StatusCreated && st != http.StatusOK {
				t.Fatalf("create: %d %v", st, out)
			}
			f, _ := out["id"].(float64)
			id := fmt.Sprint(uint64(f))
			p, b := c.change(id)
			if st, out := call(t, m0, "PUT", p, b); st != http.StatusOK {
				t.Fatalf("change: %d %v", st, out)
			}
			tokenLife(t, m0, "after")
			if err := m0.Close(); err != nil {
				t.Fatal(err)
			}
			path, index, recs := readBlock(t, dir)
			i := seqOfType(t, recs, c.typ, 1)
			writeBlock(t, dir, path, index, append(recs[:i:i], recs[i+1:]...), true)

			m, _, release := startChecked(t, dir, true, true)
			defer release()
			ctx := context.Background()
			before, err := m.Store.LastSequence(ctx)
			if err != nil {
				t.Fatal(err)
			}
			p, b = c.back(id)
			st2, body := text(t, m, "PUT", p, b)
			after, err := m.Store.LastSequence(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st2 != http.StatusServiceUnavailable || after != before {
				t.Errorf("PUT %s back while pending, its %s deleted: %d %.300s, %d appended; want 503, none", p, c.typ, st2, body, after-before)
			}
		})
	}
}
