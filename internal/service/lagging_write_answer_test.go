package service_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// TestWriteWhoseProjectionLagsAnswersWhatItStored runs the ledger with a
// read wait so short that every write's answer is due before the
// projections apply it. Creates and updates of users, service accounts,
// roles, projects and environments must still answer with the record as
// the write left it (folded from the aggregate's own events), never a 500,
// an empty body or the record as it was before.
func TestWriteWhoseProjectionLagsAnswersWhatItStored(t *testing.T) {
	a := servicetest.StartWith(t, "", nil, func(cfg *service.Config) {
		cfg.MutationRate, cfg.ReadWait = 0, time.Nanosecond
	})
	type req struct {
		method, path string
		body         any
		status       int
		want         []string // substrings of the answer
	}
	do := func(r req) map[string]any {
		t.Helper()
		o := atkDo(a.URL(), r.method, r.path, "", r.body)
		if o.status != r.status {
			t.Fatalf("%s %s: %d, want %d: %s", r.method, r.path, o.status, r.status, o.body)
		}
		for _, w := range r.want {
			if !strings.Contains(o.body, w) {
				t.Errorf("%s %s (stored at seq %s): answer lacks %s: %s", r.method, r.path, o.seqHdr, w, o.body)
			}
		}
		var m map[string]any
		_ = json.Unmarshal([]byte(o.body), &m)
		return m
	}
	id := func(m map[string]any) string { f, _ := m["id"].(float64); return fmt.Sprint(uint64(f)) }

	role := do(req{"POST", "/api/admin/roles", map[string]any{"name": "fold-role", "type": "custom", "permissions": []any{}}, 201, []string{`"name":"fold-role"`}})
	user := do(req{"POST", "/api/admin/user-admin", map[string]any{"username": "folduser", "email": "fold@example.com", "rootRole": "Viewer"}, 201, []string{`"username":"folduser"`, `"rootRole":3`}})
	sa := do(req{"POST", "/api/admin/service-account", map[string]any{"name": "foldsa", "username": "foldsa", "rootRole": "Viewer"}, 201, []string{`"name":"foldsa"`}})
	do(req{"POST", "/api/admin/projects", map[string]any{"id": "fold-proj", "name": "Fold project"}, 201, []string{`"id":"fold-proj"`, `"name":"Fold project"`}})
	do(req{"POST", "/api/admin/environments", map[string]any{"name": "fold-env", "type": "test"}, 201, []string{`"name":"fold-env"`, `"type":"test"`}})

	a.CatchUp() // an update's route reads the record it changes from the directory
	for _, r := range []req{
		{"PUT", "/api/admin/roles/" + id(role), map[string]any{"name": "fold-role-2", "permissions": []any{}}, 200, []string{`"name":"fold-role-2"`}},
		{"PUT", "/api/admin/user-admin/" + id(user), map[string]any{"rootRole": "Editor"}, 200, []string{`"rootRole":2`}},
		{"PUT", "/api/admin/service-account/" + id(sa), map[string]any{"name": "foldsa-2"}, 200, []string{`"name":"foldsa-2"`}},
		{"PUT", "/api/admin/projects/fold-proj", map[string]any{"name": "Fold project 2"}, 200, []string{`"name":"Fold project 2"`}},
		{"PUT", "/api/admin/environments/update/fold-env", map[string]any{"type": "production"}, 200, []string{`"type":"production"`}},
	} {
		do(r)
	}
	if strings.Contains(a.Logs(), `"level":"ERROR"`) {
		t.Errorf("a lagging projection logged an error:\n%s", a.Logs())
	}
}
