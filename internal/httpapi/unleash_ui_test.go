package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// Unleash's own admin UI (8.x), pointed at the ledger for the token routes
// through a reverse proxy, sends these bodies exactly as written here
// (taken from its project-token form, its "Connect SDK" flow, its API-token
// form and its user form). Each must work.

func TestUnleashAdminUIRequestBodiesAreAccepted(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "p1", "name": "P1"})
	editor := s.CreateUser("ui-editor", "Editor")

	cases := []struct {
		name, path, cred, body string
		wantType               string
		wantProjects           []string
	}{
		{"project_token_form_client_in_default", "/api/admin/projects/default/api-tokens", servicetest.AdminSecret,
			`{"tokenName":"ui-client","type":"CLIENT","environment":"development","projects":["default"]}`, "client", []string{"default"}},
		{"project_token_form_frontend_as_editor", "/api/admin/projects/default/api-tokens", editor.Secret,
			`{"tokenName":"ui-frontend","type":"FRONTEND","environment":"development","projects":["default"]}`, "frontend", []string{"default"}},
		{"project_token_form_client_in_p1", "/api/admin/projects/p1/api-tokens", servicetest.AdminSecret,
			`{"tokenName":"ui-p1","type":"CLIENT","environment":"development","projects":["p1"]}`, "client", []string{"p1"}},
		{"connect_sdk_backend_key", "/api/admin/projects/p1/api-tokens", servicetest.AdminSecret,
			`{"environment":"development","type":"client","projects":["p1"],"tokenName":"api-key-p1-development"}`, "client", []string{"p1"}},
		{"connect_sdk_frontend_key", "/api/admin/projects/default/api-tokens", servicetest.AdminSecret,
			`{"environment":"development","type":"frontend","projects":["default"],"tokenName":"api-key-default-development"}`, "frontend", []string{"default"}},
		{"api_token_form_all_projects", "/api/admin/api-tokens", servicetest.AdminSecret,
			`{"tokenName":"ui-all","type":"CLIENT","environment":"development","projects":["*"]}`, "client", []string{"*"}},
		{"api_token_form_one_project", "/api/admin/api-tokens", servicetest.AdminSecret,
			`{"tokenName":"ui-one","type":"FRONTEND","environment":"development","projects":["p1"]}`, "frontend", []string{"p1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := s.For(t)
			r := s.Do("POST", tc.path, tc.cred, tc.body)
			if r.Status != http.StatusCreated {
				t.Fatalf("status %d, want 201: %s", r.Status, r.Body)
			}
			var got struct {
				Secret   string   `json:"secret"`
				Type     string   `json:"type"`
				Projects []string `json:"projects"`
			}
			if err := json.Unmarshal(r.Body, &got); err != nil {
				t.Fatal(err)
			}
			if got.Type != tc.wantType || !slices.Equal(got.Projects, tc.wantProjects) {
				t.Fatalf("answer type %q projects %v, want %q %v", got.Type, got.Projects, tc.wantType, tc.wantProjects)
			}
			tok, ok := s.Tokens.Lookup(got.Secret)
			if !ok {
				t.Fatal("the created secret does not verify")
			}
			if slices.Contains(tc.wantProjects, "*") != tok.AllProjects || (!tok.AllProjects && !slices.Equal(tok.Projects, tc.wantProjects)) {
				t.Fatalf("stored scope %v (all projects %v), want %v", tok.Projects, tok.AllProjects, tc.wantProjects)
			}
		})
	}

	t.Run("user_form_with_a_root_role_from_rootRoles", func(t *testing.T) {
		s := s.For(t)
		var list struct {
			RootRoles []struct {
				ID   float64 `json:"id"`
				Name string  `json:"name"`
			} `json:"rootRoles"`
		}
		if err := json.Unmarshal(s.Must(http.StatusOK, "GET", "/api/admin/user-admin", servicetest.AdminSecret, nil).Body, &list); err != nil {
			t.Fatal(err)
		}
		roles := list.RootRoles
		var viewer float64
		for _, r := range roles {
			if r.Name == "Viewer" {
				viewer = r.ID
			}
		}
		if viewer == 0 {
			t.Fatalf("no Viewer in rootRoles: %v", roles)
		}
		body := fmt.Sprintf(`{"name":"Ui User","email":"ui-user@example.com","sendEmail":false,"rootRole":%d}`, int(viewer))
		r := s.Must(http.StatusCreated, "POST", "/api/admin/user-admin", servicetest.AdminSecret, body)
		if got := r.JSON(t)["rootRole"]; got != viewer {
			t.Fatalf("rootRole %v, want %v", got, viewer)
		}
	})
}

// A project token's body may name the path's project, and nothing else:
// any other "projects" is a 400 naming the field, never echoing the value,
// and appends nothing.
func TestProjectTokenRefusesProjectsOtherThanThePathsProject(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "p1", "name": "P1"})
	const echo = "zz-not-echoed-7f3a"
	cases := []struct{ name, projects string }{
		{"another_project", `["p1"]`},
		{"the_project_and_another", `["default","p1"]`},
		{"the_project_twice", `["default","default"]`},
		{"all_projects", `["*"]`},
		{"empty", `[]`},
		{"unknown_project_value", `["` + echo + `"]`},
		{"a_string_not_a_list", `"default"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := s.For(t)
			r := s.MustRefuse(http.StatusBadRequest, "POST", "/api/admin/projects/default/api-tokens", servicetest.AdminSecret,
				`{"tokenName":"ui","type":"CLIENT","environment":"development","projects":`+tc.projects+`}`)
			if firstErrorPath(r) != "projects" {
				t.Fatalf("the error does not name projects: %s", r.Body)
			}
			if strings.Contains(string(r.Body), echo) || strings.Contains(string(r.Body), `"p1"`) {
				t.Fatalf("the error echoes the value: %s", r.Body)
			}
		})
	}
}

// Unleash's UI builds the role dropdowns of its user and service-account
// forms from "rootRoles" in the list answers: every root role (predefined
// and custom), never a project role, each in Unleash's closed roleSchema.
func TestUserAndServiceAccountListsCarryRootRoles(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	custom := s.CreateRole("auditor", "root-custom")
	projectRole := s.CreateRole("deployer", "custom", "CREATE_PROJECT_API_TOKEN")
	for _, path := range []string{"/api/admin/user-admin", "/api/admin/service-account"} {
		t.Run(strings.TrimPrefix(path, "/api/admin/"), func(t *testing.T) {
			s := s.For(t)
			r := s.Must(http.StatusOK, "GET", path, servicetest.AdminSecret, nil)
			var got struct {
				RootRoles []map[string]any `json:"rootRoles"`
			}
			if err := json.Unmarshal(r.Body, &got); err != nil {
				t.Fatal(err)
			}
			byID := map[int]map[string]any{}
			for _, role := range got.RootRoles {
				keys := []string{}
				for k := range role {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				if !slices.Equal(keys, []string{"description", "id", "name", "type"}) {
					t.Fatalf("a root role has the keys %v, want Unleash's roleSchema: %s", keys, r.Body)
				}
				byID[int(role["id"].(float64))] = role
			}
			want := map[int][2]string{1: {"Admin", "root"}, 2: {"Editor", "root"}, 3: {"Viewer", "root"}, custom: {"auditor", "root-custom"}}
			for id, w := range want {
				role, ok := byID[id]
				if !ok || role["name"] != w[0] || role["type"] != w[1] {
					t.Fatalf("rootRoles lack %d %v: %s", id, w, r.Body)
				}
			}
			if len(byID) != len(want) {
				t.Fatalf("rootRoles hold %d roles, want %d (no project roles such as %d): %s", len(byID), len(want), projectRole, r.Body)
			}
		})
	}
}

// Unleash's UI reads featureCount and memberCount on every project card
// ("undefined flags" without them): the project list carries Unleash's
// counters, flag counters 0 (the ledger has no flags), members counted.
func TestProjectListCarriesUnleashCounters(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "p1", "name": "P1"})
	owner := s.CreateUser("p1-owner", "Viewer")
	member := s.CreateServiceAccount("p1-ci", "Viewer")
	mxAddProjectRole(s, "p1", owner.IntID, 4)
	s.Must(http.StatusOK, "POST", fmt.Sprintf("/api/admin/projects/p1/service-accounts/%d/roles/5", member.IntID), servicetest.AdminSecret, nil)

	r := s.Must(http.StatusOK, "GET", "/api/admin/projects", owner.Secret, nil)
	var got struct {
		Projects []map[string]any `json:"projects"`
	}
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatal(err)
	}
	members := map[string]float64{"default": 0, "p1": 2}
	if len(got.Projects) != len(members) {
		t.Fatalf("%d projects, want %d: %s", len(got.Projects), len(members), r.Body)
	}
	for _, p := range got.Projects {
		id := p["id"].(string)
		for _, k := range []string{"featureCount", "staleFeatureCount", "potentiallyStaleFeatureCount", "cleanupCount", "technicalDebt"} {
			if v, ok := p[k].(float64); !ok || v != 0 {
				t.Errorf("project %s: %s is %v, want 0", id, k, p[k])
			}
		}
		if p["memberCount"] != members[id] {
			t.Errorf("project %s: memberCount %v, want %v", id, p["memberCount"], members[id])
		}
		if p["health"] != float64(100) || p["mode"] != "open" || p["favorite"] != false {
			t.Errorf("project %s: health %v mode %v favorite %v, want 100 open false", id, p["health"], p["mode"], p["favorite"])
		}
	}
}

// Unleash's user edit form sends the whole form (id, name, email,
// sendEmail, rootRole) to PUT /api/admin/user-admin/{id}. The ledger
// changes the root role and accepts the rest when it repeats what the user
// has; a body that would change the name, the e-mail or the id is a 400
// naming the member, without its value, and appends nothing.
func TestUnleashUserEditFormChangesTheRootRole(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	r := s.Must(http.StatusCreated, "POST", "/api/admin/user-admin", servicetest.AdminSecret,
		`{"name":"Ui Edit","email":"ui-edit@example.com","sendEmail":false,"rootRole":3}`)
	id := int(r.JSON(t)["id"].(float64))
	path := fmt.Sprintf("/api/admin/user-admin/%d", id)

	r = s.Must(http.StatusOK, "PUT", path, servicetest.AdminSecret,
		fmt.Sprintf(`{"name":"Ui Edit","email":"ui-edit@example.com","sendEmail":false,"rootRole":2,"id":%d}`, id))
	if got := r.JSON(t)["rootRole"]; got != float64(2) {
		t.Fatalf("rootRole %v after the edit, want 2: %s", got, r.Body)
	}

	const echo = "zz-not-echoed-91c2"
	cases := []struct{ name, body, field string }{
		{"another_name", fmt.Sprintf(`{"name":"%s","email":"ui-edit@example.com","sendEmail":false,"rootRole":3,"id":%d}`, echo, id), "name"},
		{"another_email", fmt.Sprintf(`{"name":"Ui Edit","email":"%s@example.com","sendEmail":false,"rootRole":3,"id":%d}`, echo, id), "email"},
		{"another_id", fmt.Sprintf(`{"name":"Ui Edit","email":"ui-edit@example.com","sendEmail":false,"rootRole":3,"id":%d}`, id+1000), "id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := s.For(t)
			r := s.MustRefuse(http.StatusBadRequest, "PUT", path, servicetest.AdminSecret, tc.body)
			if firstErrorPath(r) != tc.field {
				t.Fatalf("the error does not name %s: %s", tc.field, r.Body)
			}
			if strings.Contains(string(r.Body), echo) {
				t.Fatalf("the error echoes the value: %s", r.Body)
			}
		})
	}
	if got := s.Must(http.StatusOK, "GET", path, servicetest.AdminSecret, nil).JSON(t)["rootRole"]; got != float64(2) {
		t.Fatalf("rootRole %v after refused edits, want 2", got)
	}
}

// firstErrorPath is the field the first detail of an error answer names.
func firstErrorPath(r servicetest.Response) string {
	var e struct {
		Details []struct {
			Path string `json:"path"`
		} `json:"details"`
	}
	if json.Unmarshal(r.Body, &e) != nil || len(e.Details) == 0 {
		return ""
	}
	return e.Details[0].Path
}
