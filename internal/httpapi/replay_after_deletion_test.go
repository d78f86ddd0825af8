package httpapi_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A create or update replayed under its Idempotency-Key answers 200 with
// its first result, even when what the request named was deleted since:
// the custom role of its rootRole (the handlers resolve it before the
// command sees the key), or the user it changed (the path's lookup). The
// request is known to be a replay (its key is claimed under its own command
// id) before those lookups, which then let deleted records through
// (atk-r10).
func TestReplayAfterADeletionAnswersItsFirstResult(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	type tc struct {
		name   string
		first  func() (method, path string, body map[string]any)
		want   int
		change func(first map[string]any)
	}
	roleOf := func(name string) int { return s.CreateRole(name, "root-custom") }
	cases := []tc{
		{"a user created with a custom role since deleted", func() (string, string, map[string]any) {
			rid := roleOf("replay-del-role-u")
			return "POST", "/api/admin/user-admin", map[string]any{"username": "replaydelu", "email": "replaydelu@example.com", "rootRole": rid}
		}, http.StatusCreated, func(first map[string]any) {
			s.Must(http.StatusOK, "PUT", "/api/admin/user-admin/"+jsonID(first), servicetest.AdminSecret, map[string]any{"rootRole": "Viewer"})
			s.Must(http.StatusOK, "DELETE", "/api/admin/roles/"+jsonNum(first["rootRole"]), servicetest.AdminSecret, nil)
		}},
		{"a service account created with a custom role since deleted", func() (string, string, map[string]any) {
			rid := roleOf("replay-del-role-sa")
			return "POST", "/api/admin/service-account", map[string]any{"name": "replay-del-sa", "username": "replaydelsa", "rootRole": rid}
		}, http.StatusCreated, func(first map[string]any) {
			s.Must(http.StatusOK, "PUT", "/api/admin/service-account/"+jsonID(first), servicetest.AdminSecret, map[string]any{"rootRole": "Viewer"})
			s.Must(http.StatusOK, "DELETE", "/api/admin/roles/"+jsonNum(first["rootRole"]), servicetest.AdminSecret, nil)
		}},
		{"a user's role change, the user since deleted", func() (string, string, map[string]any) {
			u := s.Must(http.StatusCreated, "POST", "/api/admin/user-admin", servicetest.AdminSecret,
				map[string]any{"username": "replaydelput", "email": "replaydelput@example.com", "rootRole": "Viewer"}).JSON(t)
			return "PUT", "/api/admin/user-admin/" + jsonID(u), map[string]any{"rootRole": "Editor"}
		}, http.StatusOK, func(first map[string]any) {
			s.Must(http.StatusOK, "DELETE", "/api/admin/user-admin/"+jsonID(first), servicetest.AdminSecret, nil)
		}},
	}
	for i, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			key := "replay-del-" + jsonNum(float64(i))
			method, path, body := tt.first()
			first := s.Must(tt.want, method, path, servicetest.AdminSecret, body, "Idempotency-Key", key)
			tt.change(first.JSON(t))
			s.CatchUp()
			replay := s.Do(method, path, servicetest.AdminSecret, body, "Idempotency-Key", key)
			if replay.Status != http.StatusOK {
				t.Fatalf("replay: status %d, want 200 with the first result: %.300s", replay.Status, replay.Body)
			}
			var a, b any
			_ = json.Unmarshal(first.Body, &a)
			_ = json.Unmarshal(replay.Body, &b)
			if !reflect.DeepEqual(a, b) {
				t.Errorf("the replay under its key answers\n  %s\nnot its first result\n  %s", replay.Body, first.Body)
			}
		})
	}
}

func jsonNum(v any) string {
	f, _ := v.(float64)
	return jsonID(map[string]any{"id": f})
}
