package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The README: "a retry with the same key creates nothing new and answers
// 200 with the first result". A create replayed under its Idempotency-Key
// reports the first attempt's sequence, which the projections applied long
// ago, so afterWriteDir answers from the live directory: the record as it
// is now, not as the create left it. A role renamed and deleted since is
// answered 200 under its new name as if it were live; an environment
// deleted since is answered 200 with an empty record (name "", type "",
// created at year 1). When the projections lag, the same replay is folded
// up to the first attempt's own event (Result.Head) and shows the first
// result: the answer depends on the replica's lag.
func TestReplayedCreateAnswersItsFirstResult(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	for _, tt := range []struct {
		name, path, key string
		body            map[string]any
		idOf            func(map[string]any) string
		change          func(id string) // what happens after the create
	}{
		{"a role renamed then deleted", "/api/admin/roles", "replay-role",
			map[string]any{"name": "replay-role", "type": "root-custom", "permissions": []any{}},
			func(m map[string]any) string { return jsonID(m) },
			func(id string) {
				s.Must(http.StatusOK, "PUT", "/api/admin/roles/"+id, servicetest.AdminSecret, map[string]any{"name": "renamed-role", "permissions": []any{}})
				s.Must(http.StatusOK, "DELETE", "/api/admin/roles/"+id, servicetest.AdminSecret, nil)
			}},
		{"a user whose role changed then deleted", "/api/admin/user-admin", "replay-user",
			map[string]any{"username": "replayuser", "email": "replay@example.com", "rootRole": "Viewer"},
			func(m map[string]any) string { return jsonID(m) },
			func(id string) {
				s.Must(http.StatusOK, "PUT", "/api/admin/user-admin/"+id, servicetest.AdminSecret, map[string]any{"rootRole": "Editor"})
				s.Must(http.StatusOK, "DELETE", "/api/admin/user-admin/"+id, servicetest.AdminSecret, nil)
			}},
		{"an environment retyped then deleted", "/api/admin/environments", "replay-env",
			map[string]any{"name": "replay-env", "type": "test"},
			func(m map[string]any) string { return m["name"].(string) },
			func(id string) {
				s.Must(http.StatusOK, "PUT", "/api/admin/environments/update/"+id, servicetest.AdminSecret, map[string]any{"type": "production"})
				s.Must(http.StatusOK, "DELETE", "/api/admin/environments/"+id, servicetest.AdminSecret, nil)
			}},
		{"a project renamed then deleted", "/api/admin/projects", "replay-proj",
			map[string]any{"id": "replay-proj", "name": "Replay project"},
			func(m map[string]any) string { return m["id"].(string) },
			func(id string) {
				s.Must(http.StatusOK, "PUT", "/api/admin/projects/"+id, servicetest.AdminSecret, map[string]any{"name": "Renamed project"})
				s.Must(http.StatusOK, "DELETE", "/api/admin/projects/"+id, servicetest.AdminSecret, nil)
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			first := s.Must(http.StatusCreated, "POST", tt.path, servicetest.AdminSecret, tt.body, "Idempotency-Key", tt.key)
			tt.change(tt.idOf(first.JSON(t)))
			s.CatchUp()
			replay := s.Do("POST", tt.path, servicetest.AdminSecret, tt.body, "Idempotency-Key", tt.key)
			if replay.Status != http.StatusOK {
				t.Fatalf("replay: status %d, want 200: %s", replay.Status, replay.Body)
			}
			var a, b any
			_ = json.Unmarshal(first.Body, &a)
			_ = json.Unmarshal(replay.Body, &b)
			if !reflect.DeepEqual(a, b) {
				t.Errorf("the replay of a create under its key answers\n  %s\nnot its first result\n  %s", replay.Body, first.Body)
			}
		})
	}
}

func jsonID(m map[string]any) string {
	f, _ := m["id"].(float64)
	return fmt.Sprint(int64(f))
}

// The same for an update: a PUT replayed under its Idempotency-Key after a
// later change answers the record as the later change left it, not its
// first result.
func TestReplayedUpdateAnswersItsFirstResult(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	role := s.Must(http.StatusCreated, "POST", "/api/admin/roles", servicetest.AdminSecret,
		map[string]any{"name": "replay-put", "type": "root-custom", "permissions": []any{}}).JSON(t)
	path := "/api/admin/roles/" + jsonID(role)
	body := map[string]any{"name": "replay-put-2", "permissions": []any{}}
	first := s.Must(http.StatusOK, "PUT", path, servicetest.AdminSecret, body, "Idempotency-Key", "replay-put-key")
	s.Must(http.StatusOK, "PUT", path, servicetest.AdminSecret, map[string]any{"name": "replay-put-3", "permissions": []any{}})
	s.CatchUp()
	replay := s.Must(http.StatusOK, "PUT", path, servicetest.AdminSecret, body, "Idempotency-Key", "replay-put-key")
	var a, b any
	_ = json.Unmarshal(first.Body, &a)
	_ = json.Unmarshal(replay.Body, &b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("the replay of a PUT under its key answers\n  %s\nnot its first result\n  %s", replay.Body, first.Body)
	}
}
