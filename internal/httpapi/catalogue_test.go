package httpapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The catalogue's change routes, end to end: PUT /api/admin/projects/{p},
// PUT /api/admin/environments/update/{name}, DELETE
// /api/admin/environments/{name}.

// envNames lists the environments GET /api/admin/environments answers,
// name → type.
func envNames(s *servicetest.Service) map[string]string {
	s.T().Helper()
	var out struct {
		Environments []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"environments"`
	}
	r := s.Must(http.StatusOK, "GET", "/api/admin/environments", servicetest.AdminSecret, nil)
	if err := json.Unmarshal(r.Body, &out); err != nil {
		s.T().Fatal(err)
	}
	m := map[string]string{}
	for _, e := range out.Environments {
		m[e.Name] = e.Type
	}
	return m
}

// validSecrets returns which of secrets /edge/validate answers as valid.
func validSecrets(s *servicetest.Service, secrets ...string) []string {
	s.T().Helper()
	var out struct {
		Tokens []struct {
			Token string `json:"token"`
		} `json:"tokens"`
	}
	r := s.Must(http.StatusOK, "POST", "/edge/validate", "", map[string]any{"tokens": secrets})
	if err := json.Unmarshal(r.Body, &out); err != nil {
		s.T().Fatal(err)
	}
	var valid []string
	for _, t := range out.Tokens {
		valid = append(valid, t.Token)
	}
	slices.Sort(valid)
	return valid
}

func TestCatalogue_PutProjectChangesNameAndDescription(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	created := s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret,
		map[string]any{"id": "p1", "name": "P1", "description": "first"}).JSON(t)

	steps := []struct {
		name     string
		body     any
		wantName string
		wantDesc any // nil: the description is left out of the answer
	}{
		{"rename_keeps_description", map[string]any{"name": "Payments"}, "Payments", "first"},
		{"new_description_keeps_name", map[string]any{"description": "second"}, "Payments", "second"},
		{"both_at_once", map[string]any{"name": "Pay", "description": "third"}, "Pay", "third"},
		{"empty_description_removes_it", map[string]any{"description": ""}, "Pay", nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before := s.LastSeq()
			r := s.Must(http.StatusOK, "PUT", "/api/admin/projects/p1", servicetest.AdminSecret, st.body)
			got := r.JSON(t)
			if got["id"] != "p1" || got["name"] != st.wantName || got["description"] != st.wantDesc || got["createdAt"] != created["createdAt"] {
				t.Fatalf("answer %s, want name %q description %v createdAt %v", r.Body, st.wantName, st.wantDesc, created["createdAt"])
			}
			if seq := r.Header.Get("X-Ledger-Sequence"); seq != strconv.FormatUint(before+1, 10) || s.LastSeq() != before+1 {
				t.Fatalf("X-Ledger-Sequence %q, stream %d → %d; want one event", seq, before, s.LastSeq())
			}
			if e := s.LastEvent(); e.Type != events.TypeProjectUpdated || e.AggregateID != "p1" || e.Actor.Kind != events.ActorAdminToken {
				t.Fatalf("last event %s of %s by %+v", e.Type, e.AggregateID, e.Actor)
			}
			var list struct {
				Projects []map[string]any `json:"projects"`
			}
			if err := json.Unmarshal(s.Must(http.StatusOK, "GET", "/api/admin/projects", servicetest.AdminSecret, nil).Body, &list); err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(list.Projects, func(p map[string]any) bool { return p["id"] == "p1" })
			if i < 0 || list.Projects[i]["name"] != st.wantName || list.Projects[i]["description"] != st.wantDesc {
				t.Fatalf("listed projects %+v", list.Projects)
			}
		})
	}
	// Tokens of the renamed project are untouched: the id is the scope.
	secret, _ := s.CreateToken("backend", "development", "p1")
	s.Must(http.StatusOK, "PUT", "/api/admin/projects/p1", servicetest.AdminSecret, map[string]any{"name": "Renamed again"})
	if got := validSecrets(s, secret); len(got) != 1 {
		t.Fatalf("token of the renamed project: valid %v", got)
	}
}

func TestCatalogue_PutEnvironmentChangesType(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	secret, _ := s.CreateToken("frontend", "development")
	before := s.LastSeq()
	r := s.Must(http.StatusOK, "PUT", "/api/admin/environments/update/development", servicetest.AdminSecret, map[string]any{"type": "test"})
	got := r.JSON(t)
	if got["name"] != "development" || got["type"] != "test" || got["enabled"] != true || got["createdAt"] == nil {
		t.Fatalf("answer %s", r.Body)
	}
	if seq := r.Header.Get("X-Ledger-Sequence"); seq != strconv.FormatUint(before+1, 10) || s.LastSeq() != before+1 {
		t.Fatalf("X-Ledger-Sequence %q, stream %d → %d; want one event", seq, before, s.LastSeq())
	}
	if e := s.LastEvent(); e.Type != events.TypeEnvironmentUpdated || e.AggregateID != "development" {
		t.Fatalf("last event %s of %s", e.Type, e.AggregateID)
	}
	if envs := envNames(s); envs["development"] != "test" || envs["production"] != "production" {
		t.Fatalf("environments %v", envs)
	}
	if got := validSecrets(s, secret); len(got) != 1 {
		t.Fatalf("token of the changed environment: valid %v", got)
	}
}

// Deleting an environment revokes its client, backend and frontend tokens
// in the same atomic append, attributed to the caller; other environments'
// tokens, admin tokens and PATs keep working; no token can be created in
// it afterwards and its name is not reused. All of it survives a restart.
func TestCatalogue_DeleteEnvironmentRevokesItsTokens(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	s.Must(http.StatusCreated, "POST", "/api/admin/environments", servicetest.AdminSecret, map[string]any{"name": "staging", "type": "preproduction"})
	alice := s.CreateUser("alice", "Admin")
	aliceUser, _ := s.Dir.UserByIntID(uint64(alice.IntID))
	aliceTok, _ := s.Tokens.Lookup(alice.Secret)
	clientSecret, clientID := s.CreateToken("client", "staging")
	backendSecret, backendID := s.CreateToken("backend", "staging", "default")
	frontendSecret, frontendID := s.CreateToken("frontend", "staging")
	_, goneID := s.CreateToken("backend", "staging")
	s.Must(http.StatusOK, "DELETE", "/api/admin/api-tokens/"+goneID, servicetest.AdminSecret, nil)
	prodSecret, _ := s.CreateToken("backend", "production", "default")
	stagingIDs := []string{clientID, backendID, frontendID}

	before := s.LastSeq()
	r := s.Must(http.StatusOK, "DELETE", "/api/admin/environments/staging", alice.Secret, nil)
	if seq := r.Header.Get("X-Ledger-Sequence"); seq != strconv.FormatUint(before+4, 10) || s.LastSeq() != before+4 {
		t.Fatalf("X-Ledger-Sequence %q, stream %d → %d; want environment.deleted and 3 revocations", seq, before, s.LastSeq())
	}

	t.Run("one_atomic_append_attributed_to_the_caller", func(t *testing.T) {
		evs := s.Events(before+1, before+4)
		if evs[0].Type != events.TypeEnvironmentDeleted || evs[0].AggregateID != "staging" {
			t.Fatalf("first event %s of %s", evs[0].Type, evs[0].AggregateID)
		}
		var revoked []string
		for _, e := range evs {
			if e.CommandID != evs[0].CommandID || e.Actor.Kind != events.ActorUser || e.Actor.ID != aliceUser.ID || e.Via.CredentialID != aliceTok.ID {
				t.Errorf("%s of %s attributed to %+v via %+v, want alice through her PAT in one command", e.Type, e.AggregateID, e.Actor, e.Via)
			}
			if e.Type == events.TypeTokenRevoked {
				revoked = append(revoked, e.AggregateID)
			}
		}
		slices.Sort(revoked)
		if want := slices.Sorted(slices.Values(stagingIDs)); !slices.Equal(revoked, want) {
			t.Fatalf("revoked %v, want %v", revoked, want)
		}
	})
	t.Run("its_tokens_stop_validating_others_keep_working", func(t *testing.T) {
		got := validSecrets(s, clientSecret, backendSecret, frontendSecret, prodSecret, servicetest.AdminSecret)
		if want := slices.Sorted(slices.Values([]string{prodSecret, servicetest.AdminSecret})); !slices.Equal(got, want) {
			t.Fatalf("valid after the deletion: %v, want only the production and admin tokens", got)
		}
		s.Must(http.StatusOK, "GET", "/api/admin/user", alice.Secret, nil)                  // the PAT still works
		s.Must(http.StatusOK, "GET", "/api/admin/api-tokens", servicetest.AdminSecret, nil) // the admin token too
	})
	t.Run("history_shows_reason_and_caller", func(t *testing.T) {
		for _, id := range stagingIDs {
			var h struct {
				Token struct {
					Status string `json:"status"`
					Reason string `json:"revokeReason"`
				} `json:"token"`
				Chain struct {
					Intact bool `json:"intact"`
				} `json:"chain"`
				Events []struct {
					Type  string          `json:"type"`
					Actor events.Actor    `json:"actor"`
					Data  json.RawMessage `json:"data"`
				} `json:"events"`
			}
			if err := json.Unmarshal(s.Must(http.StatusOK, "GET", "/api/ledger/tokens/"+id+"/history", servicetest.AdminSecret, nil).Body, &h); err != nil {
				t.Fatal(err)
			}
			last := h.Events[len(h.Events)-1]
			var data events.TokenRevoked
			_ = json.Unmarshal(last.Data, &data)
			if last.Type != events.TypeTokenRevoked || data.Reason != events.ReasonEnvironmentDeleted ||
				last.Actor.Kind != events.ActorUser || last.Actor.ID != aliceUser.ID {
				t.Errorf("token %s: last event %s %s by %+v", id, last.Type, last.Data, last.Actor)
			}
			if h.Token.Reason != events.ReasonEnvironmentDeleted || h.Token.Status != "revoked" || !h.Chain.Intact {
				t.Errorf("token %s: %+v %+v", id, h.Token, h.Chain)
			}
		}
	})
	t.Run("environment_is_gone_and_refuses_new_tokens", func(t *testing.T) {
		if envs := envNames(s); len(envs) != 2 || envs["staging"] != "" {
			t.Fatalf("environments %v", envs)
		}
		seq := s.LastSeq()
		refused := []struct {
			name   string
			method string
			path   string
			body   any
			want   int
			msg    string
		}{
			{"create_token_in_it", "POST", "/api/admin/api-tokens", map[string]any{"tokenName": "late", "type": "backend", "environment": "staging"}, 400, "The environment does not exist"},
			{"create_project_token_in_it", "POST", "/api/admin/projects/default/api-tokens", map[string]any{"tokenName": "late", "type": "frontend", "environment": "staging"}, 400, "The environment does not exist"},
			{"recreate_it", "POST", "/api/admin/environments", map[string]any{"name": "staging"}, 409, "not reused"},
			{"delete_it_again", "DELETE", "/api/admin/environments/staging", nil, 404, "Could not find the environment"},
			{"change_its_type", "PUT", "/api/admin/environments/update/staging", map[string]any{"type": "test"}, 404, "Could not find the environment"},
		}
		for _, rr := range refused {
			r := s.Do(rr.method, rr.path, servicetest.AdminSecret, rr.body)
			if r.Status != rr.want || !strings.Contains(string(r.Body), rr.msg) {
				t.Errorf("%s: status %d %s, want %d with %q", rr.name, r.Status, r.Body, rr.want, rr.msg)
			}
			servicetest.CheckErrorShape(t, r)
		}
		if s.LastSeq() != seq {
			t.Fatalf("refused requests moved the stream from %d to %d", seq, s.LastSeq())
		}
	})
	t.Run("survives_a_restart", func(t *testing.T) {
		s2 := s.Restart()
		if _, ok := s2.Dir.Environment("staging"); ok {
			t.Fatal("staging is back after a restart")
		}
		if got := validSecrets(s2, clientSecret, backendSecret, frontendSecret, prodSecret); !slices.Equal(got, []string{prodSecret}) {
			t.Fatalf("valid after a restart: %v", got)
		}
	})
}

func TestCatalogue_LastEnvironmentCannotBeDeleted(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	secret, _ := s.CreateToken("backend", "production")
	s.Must(http.StatusOK, "DELETE", "/api/admin/environments/development", servicetest.AdminSecret, nil)
	r := s.MustRefuse(http.StatusForbidden, "DELETE", "/api/admin/environments/production", servicetest.AdminSecret, nil)
	if e := r.JSON(t); e["name"] != "InvalidOperationError" || !strings.Contains(e["message"].(string), "last environment") {
		t.Fatalf("error %s, want InvalidOperationError saying it is the last environment", r.Body)
	}
	if envs := envNames(s); len(envs) != 1 || envs["production"] == "" {
		t.Fatalf("environments %v", envs)
	}
	if got := validSecrets(s, secret); len(got) != 1 {
		t.Fatalf("the last environment's token: valid %v", got)
	}
	// With a second environment, the first may go.
	s.Must(http.StatusCreated, "POST", "/api/admin/environments", servicetest.AdminSecret, map[string]any{"name": "live", "type": "production"})
	s.Must(http.StatusOK, "DELETE", "/api/admin/environments/production", servicetest.AdminSecret, nil)
	if envs := envNames(s); len(envs) != 1 || envs["live"] != "production" {
		t.Fatalf("environments %v", envs)
	}
	// The start-up catalogue does not bring the predefined ones back.
	s = s.Restart()
	if envs := envNames(s); len(envs) != 1 || envs["live"] != "production" {
		t.Fatalf("environments after a restart %v", envs)
	}
}

// Non-admin callers get 403 (before any 404: they learn nothing about what
// exists), unknown names 404, bad bodies 400; none of them appends.
func TestCatalogue_RefusedChangesAppendNothing(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	viewer := s.CreateUser("vera", "Viewer")
	editor := s.CreateUser("eddie", "Editor")
	editorSA := s.CreateServiceAccount("ed-bot", "Editor")
	backend, _ := s.CreateToken("backend", "development")
	s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "gone"})
	s.Must(http.StatusOK, "DELETE", "/api/admin/projects/gone", servicetest.AdminSecret, nil)

	type route struct {
		name, method, path string
		body               any
	}
	putProject := route{"put_project", "PUT", "/api/admin/projects/default", map[string]any{"name": "x"}}
	putEnv := route{"put_environment", "PUT", "/api/admin/environments/update/development", map[string]any{"type": "test"}}
	delEnv := route{"delete_environment", "DELETE", "/api/admin/environments/development", nil}

	type refusal struct {
		name   string
		method string
		path   string
		cred   string
		body   any
		want   int
		msg    string
	}
	var tests []refusal
	for _, c := range []struct{ name, cred string }{
		{"viewer", viewer.Secret}, {"editor", editor.Secret}, {"editor_service_account", editorSA.Secret}, {"backend_token", backend},
	} {
		for _, rt := range []route{putProject, putEnv, delEnv} {
			tests = append(tests, refusal{c.name + "_" + rt.name + "_is_forbidden", rt.method, rt.path, c.cred, rt.body, 403, ""})
		}
		tests = append(tests, refusal{c.name + "_deleting_unknown_environment_is_forbidden_not_not_found", "DELETE", "/api/admin/environments/nope", c.cred, nil, 403, ""})
	}
	tests = append(tests,
		refusal{"anonymous_put_project", "PUT", putProject.path, "", putProject.body, 401, ""},
		refusal{"anonymous_delete_environment", "DELETE", delEnv.path, "", nil, 401, ""},

		refusal{"put_unknown_project", "PUT", "/api/admin/projects/nope", servicetest.AdminSecret, map[string]any{"name": "x"}, 404, "Could not find the project"},
		refusal{"put_deleted_project", "PUT", "/api/admin/projects/gone", servicetest.AdminSecret, map[string]any{"name": "x"}, 404, "Could not find the project"},
		refusal{"put_unknown_environment", "PUT", "/api/admin/environments/update/nope", servicetest.AdminSecret, map[string]any{"type": "test"}, 404, "Could not find the environment"},
		refusal{"delete_unknown_environment", "DELETE", "/api/admin/environments/nope", servicetest.AdminSecret, nil, 404, "Could not find the environment"},
		refusal{"delete_all_environments_star", "DELETE", "/api/admin/environments/*", servicetest.AdminSecret, nil, 404, "Could not find the environment"},

		refusal{"put_project_with_empty_body_object", "PUT", putProject.path, servicetest.AdminSecret, map[string]any{}, 400, "nothing to update"},
		refusal{"put_project_with_empty_name", "PUT", putProject.path, servicetest.AdminSecret, map[string]any{"name": ""}, 400, "name"},
		refusal{"put_project_with_overlong_name", "PUT", putProject.path, servicetest.AdminSecret, map[string]any{"name": strings.Repeat("n", 256)}, 400, "at most 255 characters"},
		refusal{"put_project_with_unknown_field", "PUT", putProject.path, servicetest.AdminSecret, map[string]any{"name": "x", "mode": "open"}, 400, `the body has a member this route does not accept`},
		refusal{"put_project_with_numeric_name", "PUT", putProject.path, servicetest.AdminSecret, map[string]any{"name": 7}, 400, "name"},
		refusal{"put_environment_without_type", "PUT", putEnv.path, servicetest.AdminSecret, map[string]any{}, 400, "type"},
		refusal{"put_environment_with_malformed_type", "PUT", putEnv.path, servicetest.AdminSecret, map[string]any{"type": "pre prod"}, 400, "type"},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.For(t).MustRefuse(tt.want, tt.method, tt.path, tt.cred, tt.body)
			if !strings.Contains(string(r.Body), tt.msg) {
				t.Fatalf("status %d %s, want %d with %q", r.Status, r.Body, tt.want, tt.msg)
			}
		})
	}
	if envs := envNames(s); len(envs) != 2 || envs["development"] != "development" {
		t.Fatalf("environments changed: %v", envs)
	}
	if p, _ := s.Dir.Project("default"); p.Name != "Default" {
		t.Fatalf("default project renamed to %q", p.Name)
	}
}
