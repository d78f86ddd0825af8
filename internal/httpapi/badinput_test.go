package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The bad-input catalogue: every malformed or refused request gets its
// status, the one JSON error shape, a message saying what is wrong, and
// appends nothing to the stream.

type biCase struct {
	name    string
	method  string
	path    string
	cred    string
	body    any      // a string is sent as is
	headers []string // name, value pairs; override Content-Type
	want    int
	msg     string // substring of the error message (4xx only)
	// bug, when set, is a known defect: the case checks status, shape and
	// stream first and skips with this text before the failing assertion.
}

func biTokenBody(kv ...any) map[string]any {
	b := map[string]any{"tokenName": "bad-input", "type": "backend", "environment": "development"}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(b, kv[i].(string))
			continue
		}
		b[kv[i].(string)] = kv[i+1]
	}
	return b
}

// biPATID returns the integer id of a user's first PAT.
func biPATID(t testing.TB, s *servicetest.Service, cred string) int {
	t.Helper()
	pats := s.Must(http.StatusOK, "GET", "/api/admin/user/tokens", cred, nil).JSON(t)["pats"].([]any)
	if len(pats) == 0 {
		t.Fatal("user has no PAT")
	}
	return int(pats[0].(map[string]any)["id"].(float64))
}

func TestBadInputCatalogue(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "p1", "name": "P1"})
	_, backendID := s.CreateToken("backend", "development")
	_, multiID := s.CreateToken("backend", "development", "p1", "default")
	patUser := s.CreateUser("pat-user", "Editor")
	viewer := s.CreateUser("viewer", "Viewer")
	other := s.CreateUser("other", "Viewer")
	otherPAT := biPATID(t, s, other.Secret)
	otherPATToken, _ := s.Tokens.Lookup(other.Secret)
	backendTok, _ := s.Tokens.ByID(backendID)
	full := s.CreateUser("full", "Viewer")
	for i := 2; i <= 10; i++ {
		s.Must(http.StatusCreated, "POST", "/api/admin/user/tokens", full.Secret,
			map[string]any{"description": fmt.Sprintf("pat %d", i), "expiresAt": servicetest.FromNow(48 * time.Hour)})
	}
	const tokens = "/api/admin/api-tokens"
	textPlain := []string{"Content-Type", "text/plain"}
	pat := func(kv ...any) map[string]any {
		b := map[string]any{"description": "another", "expiresAt": servicetest.FromNow(48 * time.Hour)}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(b, kv[i].(string))
			} else {
				b[kv[i].(string)] = kv[i+1]
			}
		}
		return b
	}

	cases := []biCase{
		// pipeline order (docs/unleash-contract.md §3.0): 401, then 403, then 415, then 400
		{name: "no_credential_is_401_before_content_type", method: "POST", path: tokens, body: `{}`, headers: textPlain,
			want: 401, msg: "Authorization header"},
		{name: "unknown_credential_is_401", method: "GET", path: tokens, cred: "*:development.ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
			want: 401, msg: "Token was not valid"},
		{name: "garbage_credential_is_401", method: "GET", path: tokens, cred: "Bearer not-a-token", want: 401, msg: "Token was not valid"},
		{name: "viewer_is_403_before_body_validation", method: "POST", path: tokens, cred: viewer.Secret, body: `{"bogus"`,
			want: 403, msg: "CREATE_CLIENT_API_TOKEN"},

		// POST /api/admin/api-tokens
		{name: "create_token_with_text_plain", method: "POST", path: tokens, cred: servicetest.AdminSecret, body: `{"tokenName":"x","type":"backend"}`,
			headers: textPlain, want: 415, msg: "Content-Type must be application/json"},
		{name: "create_token_without_content_type", method: "POST", path: tokens, cred: servicetest.AdminSecret, body: `{"tokenName":"x","type":"backend"}`,
			headers: []string{"Content-Type", ""}, want: 415, msg: "application/json"},
		{name: "create_token_body_over_64KiB", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: biTokenBody("tokenName", strings.Repeat("a", 70<<10)), want: 413, msg: "larger than 65536 bytes"},
		{name: "create_token_empty_body", method: "POST", path: tokens, cred: servicetest.AdminSecret, body: "", want: 400, msg: "request body is empty"},
		{name: "create_token_invalid_json", method: "POST", path: tokens, cred: servicetest.AdminSecret, body: `{"tokenName": nope}`,
			want: 400, msg: "not valid JSON"},
		{name: "create_token_truncated_json", method: "POST", path: tokens, cred: servicetest.AdminSecret, body: `{"tokenName": "x"`,
			want: 400, msg: "JSON"},
		{name: "create_token_trailing_garbage", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: `{"tokenName":"x","type":"backend"} and more`, want: 400, msg: "exactly one JSON value"},
		{name: "create_token_two_objects", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: `{"tokenName":"x","type":"backend"}{"tokenName":"y","type":"backend"}`, want: 400, msg: "exactly one JSON value"},
		{name: "create_token_unknown_field", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: biTokenBody("colour", "blue"), want: 400, msg: `the body has a member this route does not accept`},
		{name: "create_token_tokenName_of_wrong_type", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: biTokenBody("tokenName", 42), want: 400, msg: `"tokenName" must be of type string`},
		{name: "create_token_singular_project", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: biTokenBody("project", "default"), want: 400, msg: `send "projects"`},
		{name: "create_token_without_tokenName", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: biTokenBody("tokenName", nil), want: 400, msg: "tokenName: is required"},
		{name: "create_token_tokenName_of_300_chars", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: biTokenBody("tokenName", strings.Repeat("n", 300)), want: 400, msg: "at most 255 characters"},
		{name: "create_token_without_type", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: biTokenBody("type", nil), want: 400, msg: `"type" is required`},
		{name: "create_token_of_type_admin", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: biTokenBody("type", "admin"), want: 400, msg: "admin tokens cannot be created through the API"},
		{name: "create_token_of_type_ADMIN_any_case", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: biTokenBody("type", "ADMIN"), want: 400, msg: "admin tokens cannot be created through the API"},
		{name: "create_token_of_type_bogus", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: biTokenBody("type", "bogus"), want: 400, msg: `"type" must be one of client, backend, frontend`},
		{name: "create_backend_token_for_all_environments", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: biTokenBody("environment", "*"), want: 400, msg: "Client token cannot be scoped to all environments"},
		{name: "create_frontend_token_for_all_environments", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: biTokenBody("type", "frontend", "environment", "*"), want: 400, msg: "Frontend token cannot be scoped to all environments"},
		{name: "create_token_in_unknown_environment", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: biTokenBody("environment", "staging-nope"), want: 400, msg: "The environment does not exist"},
		{name: "create_token_in_malformed_environment", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: biTokenBody("environment", "dev.>"), want: 400, msg: "may contain only letters"},
		{name: "create_token_in_unknown_project", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: biTokenBody("projects", []string{"default", "nope"}), want: 400, msg: "A project in projects does not exist"},
		{name: "create_token_in_project_with_a_dot", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: biTokenBody("projects", []string{"a.b"}), want: 400, msg: "may contain only letters"},
		{name: "create_token_in_project_with_a_star", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: biTokenBody("projects", []string{"p*"}), want: 400, msg: "may contain only letters"},
		{name: "create_token_in_project_with_a_subject_wildcard", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: biTokenBody("projects", []string{">"}), want: 400, msg: "may contain only letters"},
		{name: "create_token_with_empty_projects", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: biTokenBody("projects", []string{}), want: 400, msg: "at least one project"},
		{name: "create_token_expiring_in_the_past", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: biTokenBody("expiresAt", servicetest.FromNow(-time.Hour)), want: 400, msg: "expiresAt: must be in the future"},
		{name: "create_token_with_expiresAt_not_a_date", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: biTokenBody("expiresAt", "next tuesday"), want: 400, msg: `"expiresAt" must be an ISO 8601 date-time`},
		{name: "create_token_with_expiresAt_a_number", method: "POST", path: tokens, cred: servicetest.AdminSecret,
			body: biTokenBody("expiresAt", 12345), want: 400, msg: `"expiresAt" must be an ISO 8601 date-time`},

		// PUT /api/admin/api-tokens/{token}
		{name: "update_expiry_without_expiresAt", method: "PUT", path: tokens + "/" + backendID, cred: servicetest.AdminSecret,
			body: map[string]any{}, want: 400, msg: `"expiresAt" is required`},
		{name: "update_expiry_with_text_plain", method: "PUT", path: tokens + "/" + backendID, cred: servicetest.AdminSecret,
			body: `{"expiresAt":"2099-01-01T00:00:00Z"}`, headers: textPlain, want: 415, msg: "application/json"},
		{name: "update_expiry_with_unknown_field", method: "PUT", path: tokens + "/" + backendID, cred: servicetest.AdminSecret,
			body: map[string]any{"expiresAt": "2099-01-01T00:00:00Z", "tokenName": "renamed"}, want: 400, msg: `the body has a member this route does not accept`},
		// Unleash's documented behaviour: an unknown token is a 200 no-op.
		{name: "update_unknown_token_is_a_200_noop", method: "PUT", path: tokens + "/no-such-token", cred: servicetest.AdminSecret,
			body: map[string]any{"expiresAt": "2099-01-01T00:00:00Z"}, want: 200},
		{name: "delete_unknown_token_is_a_200_noop", method: "DELETE", path: tokens + "/no-such-token", cred: servicetest.AdminSecret, want: 200},
		{name: "delete_wildcard_token_ref_is_a_200_noop", method: "DELETE", path: tokens + "/*", cred: servicetest.AdminSecret, want: 200},

		// project-scoped tokens
		{name: "list_tokens_of_unknown_project", method: "GET", path: "/api/admin/projects/nope/api-tokens", cred: servicetest.AdminSecret,
			want: 404, msg: "Could not find the project"},
		{name: "create_project_token_with_projects", method: "POST", path: "/api/admin/projects/p1/api-tokens", cred: servicetest.AdminSecret,
			body: biTokenBody("projects", []string{"default"}), want: 400, msg: "scoped to the project in the path"},
		{name: "delete_unknown_project_token", method: "DELETE", path: "/api/admin/projects/p1/api-tokens/no-such-token", cred: servicetest.AdminSecret,
			want: 404, msg: "Could not find the token in this project"},
		{name: "delete_multi_project_token_from_a_project", method: "DELETE", path: "/api/admin/projects/p1/api-tokens/" + multiID, cred: servicetest.AdminSecret,
			want: 400, msg: "scoped to more projects than this one"},

		// PATs
		{name: "create_pat_without_description", method: "POST", path: "/api/admin/user/tokens", cred: patUser.Secret,
			body: pat("description", nil), want: 400, msg: "PAT description cannot be empty."},
		{name: "create_pat_without_expiresAt", method: "POST", path: "/api/admin/user/tokens", cred: patUser.Secret,
			body: pat("expiresAt", nil), want: 400, msg: `"expiresAt" is required`},
		{name: "create_pat_expiring_in_the_past", method: "POST", path: "/api/admin/user/tokens", cred: patUser.Secret,
			body: pat("expiresAt", servicetest.FromNow(-time.Hour)), want: 400, msg: "The expiry date should be in future."},
		{name: "create_pat_with_duplicate_description", method: "POST", path: "/api/admin/user/tokens", cred: patUser.Secret,
			body: pat("description", "first"), want: 409, msg: "PAT description already exists."},
		{name: "create_11th_pat", method: "POST", path: "/api/admin/user/tokens", cred: full.Secret,
			body: pat(), want: 403, msg: "Too many PATs (10) already exist for this user."},
		{name: "delete_pat_with_non_integer_id", method: "DELETE", path: "/api/admin/user/tokens/abc", cred: patUser.Secret,
			want: 400, msg: "positive integer"},
		{name: "delete_someone_elses_pat_is_a_200_noop", method: "DELETE", path: fmt.Sprintf("/api/admin/user/tokens/%d", otherPAT),
			cred: patUser.Secret, want: 200},
		{name: "delete_pat_id_of_an_api_token_is_a_200_noop", method: "DELETE", path: fmt.Sprintf("/api/admin/user/tokens/%d", backendTok.CreatedSeq),
			cred: patUser.Secret, want: 200},
		// PATs are not API tokens: the api-tokens routes do not see them.
		{name: "delete_pat_through_api_tokens_route_is_a_200_noop", method: "DELETE", path: tokens + "/" + otherPATToken.ID,
			cred: servicetest.AdminSecret, want: 200},
		{name: "delete_pat_by_secret_through_api_tokens_route_is_a_200_noop", method: "DELETE", path: tokens + "/" + other.Secret,
			cred: servicetest.AdminSecret, want: 200},
		{name: "update_pat_through_api_tokens_route_is_a_200_noop", method: "PUT", path: tokens + "/" + otherPATToken.ID,
			cred: servicetest.AdminSecret, body: map[string]any{"expiresAt": "2099-01-01T00:00:00Z"}, want: 200},
		{name: "delete_unknown_pat_is_a_200_noop", method: "DELETE", path: "/api/admin/user/tokens/999999", cred: patUser.Secret, want: 200},

		// users, service accounts, roles, projects
		{name: "create_user_without_username_or_email", method: "POST", path: "/api/admin/user-admin", cred: servicetest.AdminSecret,
			body: map[string]any{"rootRole": "Viewer"}, want: 400, msg: "username or email is required"},
		{name: "create_user_with_duplicate_username", method: "POST", path: "/api/admin/user-admin", cred: servicetest.AdminSecret,
			body: map[string]any{"username": "viewer", "rootRole": "Viewer"}, want: 409, msg: `The username or e-mail address is already taken`},
		{name: "create_user_with_duplicate_email_in_other_case", method: "POST", path: "/api/admin/user-admin", cred: servicetest.AdminSecret,
			body: map[string]any{"username": "someone-new", "email": "VIEWER@example.com", "rootRole": "Viewer"}, want: 409, msg: "e-mail address"},
		{name: "create_service_account_with_a_users_username", method: "POST", path: "/api/admin/service-account", cred: servicetest.AdminSecret,
			body: map[string]any{"name": "x", "username": "viewer", "rootRole": "Viewer"}, want: 409, msg: `The username or e-mail address is already taken`},
		{name: "create_user_with_unknown_root_role", method: "POST", path: "/api/admin/user-admin", cred: servicetest.AdminSecret,
			body: map[string]any{"username": "newbie", "rootRole": "Superuser"}, want: 400, msg: "unknown role"},
		{name: "create_user_with_unknown_root_role_id", method: "POST", path: "/api/admin/user-admin", cred: servicetest.AdminSecret,
			body: map[string]any{"username": "newbie", "rootRole": 99}, want: 400, msg: "no role has id 99"},
		{name: "create_user_with_project_role_as_root_role", method: "POST", path: "/api/admin/user-admin", cred: servicetest.AdminSecret,
			body: map[string]any{"username": "newbie", "rootRole": "Owner"}, want: 400, msg: "Owner is not a root role"},
		{name: "change_role_of_unknown_user", method: "PUT", path: "/api/admin/user-admin/999999", cred: servicetest.AdminSecret,
			body: map[string]any{"rootRole": "Admin"}, want: 404, msg: "Could not find user with id 999999"},
		{name: "create_service_account_without_username", method: "POST", path: "/api/admin/service-account", cred: servicetest.AdminSecret,
			body: map[string]any{"name": "ci", "rootRole": "Editor"}, want: 400, msg: "username: is required"},
		{name: "create_project_with_invalid_id", method: "POST", path: "/api/admin/projects", cred: servicetest.AdminSecret,
			body: map[string]any{"id": "no spaces!", "name": "X"}, want: 400, msg: "may contain only letters"},
		{name: "create_duplicate_project", method: "POST", path: "/api/admin/projects", cred: servicetest.AdminSecret,
			body: map[string]any{"id": "p1", "name": "again"}, want: 409, msg: "A project with this id already exists"},
		{name: "delete_project_default", method: "DELETE", path: "/api/admin/projects/default", cred: servicetest.AdminSecret,
			want: 403, msg: "You can not delete the default project!"},
		{name: "delete_unknown_project", method: "DELETE", path: "/api/admin/projects/nope", cred: servicetest.AdminSecret,
			want: 404, msg: "Could not find the project"},
		{name: "create_role_with_unknown_permission", method: "POST", path: "/api/admin/roles", cred: servicetest.AdminSecret,
			body: map[string]any{"name": "r", "type": "root-custom", "permissions": []map[string]string{{"name": "FLY_TO_THE_MOON"}}},
			want: 400, msg: "holds a name that is not a permission"},
		{name: "create_custom_role_with_ADMIN", method: "POST", path: "/api/admin/roles", cred: servicetest.AdminSecret,
			body: map[string]any{"name": "r", "type": "root-custom", "permissions": []map[string]string{{"name": "ADMIN"}}},
			want: 400, msg: `"ADMIN" is not a root-role permission`},
		{name: "create_project_role_with_root_permission", method: "POST", path: "/api/admin/roles", cred: servicetest.AdminSecret,
			body: map[string]any{"name": "r", "type": "custom", "permissions": []map[string]string{{"name": "READ_CLIENT_API_TOKEN"}}},
			want: 400, msg: `"READ_CLIENT_API_TOKEN" is not a project-role permission`},
		{name: "create_role_named_Admin", method: "POST", path: "/api/admin/roles", cred: servicetest.AdminSecret,
			body: map[string]any{"name": "Admin", "type": "root-custom", "permissions": []map[string]string{}},
			want: 400, msg: "name of a predefined role"},
		{name: "create_role_of_unknown_type", method: "POST", path: "/api/admin/roles", cred: servicetest.AdminSecret,
			body: map[string]any{"name": "r", "type": "galactic", "permissions": []map[string]string{}},
			want: 400, msg: `"type" must be "root-custom"`},
		{name: "change_predefined_role", method: "PUT", path: "/api/admin/roles/1", cred: servicetest.AdminSecret,
			body: map[string]any{"permissions": []map[string]string{}}, want: 403, msg: "Predefined roles cannot be changed"},

		// /edge/validate
		{name: "edge_validate_without_tokens", method: "POST", path: "/edge/validate", body: map[string]any{},
			want: 400, msg: `"tokens" is required`},
		{name: "edge_validate_with_text_plain", method: "POST", path: "/edge/validate", body: `{"tokens":[]}`, headers: textPlain,
			want: 415, msg: "Content-Type must be application/json"},
		{name: "edge_validate_with_tokens_not_strings", method: "POST", path: "/edge/validate", body: map[string]any{"tokens": []int{1}},
			want: 400, msg: "tokens"},
		{name: "edge_validate_over_1000_tokens", method: "POST", path: "/edge/validate",
			body: map[string]any{"tokens": make([]string, 1001)}, want: 400, msg: "at most 1000 tokens"},

		// ledger routes and unknown routes
		{name: "ledger_events_with_bad_since", method: "GET", path: "/api/ledger/events?since=yesterday", cred: servicetest.AdminSecret,
			want: 400, msg: "since must be an RFC 3339 time"},
		{name: "ledger_state_without_seq_or_at", method: "GET", path: "/api/ledger/state", cred: servicetest.AdminSecret,
			want: 400, msg: "exactly one of seq"},
		{name: "ledger_history_of_unknown_token", method: "GET", path: "/api/ledger/tokens/nope/history", cred: servicetest.AdminSecret,
			want: 404, msg: "Could not find a token"},
		{name: "get_unknown_route", method: "GET", path: "/api/admin/no-such-route", cred: servicetest.AdminSecret,
			want: 404, msg: "No route for this method and path"},
		{name: "get_unknown_route_anonymously", method: "GET", path: "/nope", want: 404, msg: "No route for this method and path"},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := s.For(t)
			before := s.LastSeq()
			r := s.Do(tc.method, tc.path, tc.cred, tc.body, tc.headers...)
			after := s.LastSeq()
			if r.Status != tc.want {
				t.Fatalf("%s %s: status %d, want %d: %.300s", tc.method, tc.path, r.Status, tc.want, r.Body)
			}
			if after != before {
				t.Fatalf("the request appended to the stream: seq %d → %d", before, after)
			}
			if tc.want < 400 {
				return
			}
			servicetest.CheckErrorShape(t, r)
			var e struct {
				Message string `json:"message"`
			}
			_ = json.Unmarshal(r.Body, &e)
			if !strings.Contains(e.Message, tc.msg) {
				t.Fatalf("message %q does not say %q", e.Message, tc.msg)
			}
		})
	}

	// The no-op deletions above left their targets alone.
	t.Run("noop_targets_are_untouched", func(t *testing.T) {
		s := s.For(t)
		s.Must(http.StatusOK, "GET", "/api/admin/user/tokens", other.Secret, nil)
		if tok, _ := s.Tokens.ByID(otherPATToken.ID); tok.Revoked || !tok.ExpiresAt.Equal(otherPATToken.ExpiresAt) {
			t.Fatalf("the api-tokens routes changed a PAT")
		}
		if tok, _ := s.Tokens.ByID(backendID); tok.Revoked {
			t.Fatalf("a no-op deletion revoked the backend token")
		}
	})
}

// TestConcurrentDeletes: many simultaneous deletions of one token append
// exactly one revocation, and every one answers 200: a deletion that lost
// the race decides again on the fresh token, finds it revoked (the goal
// holds) and appends nothing. (The project route answers 404 once its read
// model shows the token revoked, as for any later deletion.)
func TestConcurrentDeletes(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	u := s.CreateUser("racer", "Viewer")
	const n = 8
	cases := []struct {
		name  string
		setup func(s *servicetest.Service) (tokenID, path, cred string)
		ok    []int
	}{
		{"admin_route_by_id", func(s *servicetest.Service) (string, string, string) {
			_, id := s.CreateToken("backend", "development")
			return id, "/api/admin/api-tokens/" + id, servicetest.AdminSecret
		}, []int{200}},
		{"admin_route_by_secret", func(s *servicetest.Service) (string, string, string) {
			secret, id := s.CreateToken("frontend", "development")
			return id, "/api/admin/api-tokens/" + secret, servicetest.AdminSecret
		}, []int{200}},
		{"project_route", func(s *servicetest.Service) (string, string, string) {
			_, id := s.CreateToken("backend", "development", "default")
			return id, "/api/admin/projects/default/api-tokens/" + id, servicetest.AdminSecret
		}, []int{200, 404}},
		{"own_pat", func(s *servicetest.Service) (string, string, string) {
			r := s.Must(http.StatusCreated, "POST", "/api/admin/user/tokens", u.Secret,
				map[string]any{"description": "doomed", "expiresAt": servicetest.FromNow(48 * time.Hour)})
			tok, _ := s.Tokens.Lookup(r.JSON(s.T())["secret"].(string))
			return tok.ID, fmt.Sprintf("/api/admin/user/tokens/%d", int(r.JSON(s.T())["id"].(float64))), u.Secret
		}, []int{200}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := s.For(t)
			id, path, cred := tc.setup(s)
			before := s.LastSeq()
			statuses := make([]int, n)
			bodies := make([][]byte, n)
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					statuses[i], bodies[i], errs[i] = mxRaw("DELETE", s.URL()+path, cred, nil)
				})
			}
			close(start)
			wg.Wait()
			oks := 0
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("request %d: %v", i, errs[i])
				}
				if !mxContainsInt(tc.ok, statuses[i]) {
					t.Fatalf("request %d: status %d, want one of %v: %s", i, statuses[i], tc.ok, bodies[i])
				}
				if statuses[i] == http.StatusOK {
					oks++
				} else {
					servicetest.CheckErrorShape(t, servicetest.Response{Status: statuses[i], Header: http.Header{"Content-Type": {"application/json"}}, Body: bodies[i]})
				}
			}
			grown := s.LastSeq() - before // before the query below, which is recorded
			t.Logf("statuses: %v", statuses)
			if oks == 0 {
				t.Fatalf("no deletion succeeded: %v", statuses)
			}
			ev := s.Must(http.StatusOK, "GET", "/api/ledger/events?aggregate="+id+"&type=token.revoked", servicetest.AdminSecret, nil).JSON(t)
			if got := len(ev["events"].([]any)); got != 1 {
				t.Fatalf("%d token.revoked events for one token, want 1 (statuses %v)", got, statuses)
			}
			// One revocation, plus for a PAT the release of its description
			// and of its slot (commands.ScopeAccountTokenSlot).
			want := uint64(1)
			if tc.name == "own_pat" {
				want = 3
			}
			if grown != want {
				t.Fatalf("stream grew by %d events, want %d", grown, want)
			}
		})
	}
}

func mxContainsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestIdempotencyKey: a retried create with the same Idempotency-Key creates
// nothing and points at the first token (without its secret); another key,
// or the same key from another caller, creates a new token.
func TestIdempotencyKey(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	admin := s.CreateUser("idem-admin", "Admin")
	body := map[string]any{"tokenName": "idem", "type": "backend", "environment": "development"}

	first := s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", servicetest.AdminSecret, body, "Idempotency-Key", "key-1")
	secret := first.JSON(t)["secret"].(string)
	tok, ok := s.Tokens.Lookup(secret)
	if !ok {
		t.Fatal("the first answer's secret is not a token's secret")
	}
	seq := s.LastSeq()

	t.Run("same_key_replays_without_creating", func(t *testing.T) {
		s := s.For(t)
		r := s.Must(http.StatusOK, "POST", "/api/admin/api-tokens", servicetest.AdminSecret, body, "Idempotency-Key", "key-1")
		if got := s.LastSeq(); got != seq {
			t.Fatalf("the retry appended: seq %d → %d", seq, got)
		}
		if got := r.JSON(t)["secret"]; got != tok.ID {
			t.Fatalf("the retry's secret is %v, want the first token's id %s", got, tok.ID)
		}
		if r.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("no Idempotent-Replayed header")
		}
		if strings.Contains(string(r.Body), secret) {
			t.Fatalf("the retry repeats the full secret")
		}
		v := s.Must(http.StatusOK, "POST", "/edge/validate", "", map[string]any{"tokens": []string{tok.ID}}).JSON(t)
		if len(v["tokens"].([]any)) != 0 {
			t.Fatalf("the replayed `secret` validates as a token")
		}
		if n := len(s.Tokens.ByName("idem")); n != 1 {
			t.Fatalf("%d tokens named idem, want 1", n)
		}
	})

	t.Run("another_key_creates_a_new_token", func(t *testing.T) {
		s := s.For(t)
		r := s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", servicetest.AdminSecret, body, "Idempotency-Key", "key-2")
		other, ok := s.Tokens.Lookup(r.JSON(t)["secret"].(string))
		if !ok || other.ID == tok.ID {
			t.Fatalf("key-2 did not create a distinct token")
		}
		if s.LastSeq() <= seq {
			t.Fatal("key-2 appended nothing")
		}
	})

	t.Run("same_key_from_another_caller_creates_a_new_token", func(t *testing.T) {
		s := s.For(t)
		before := s.LastSeq()
		r := s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", admin.Secret, body, "Idempotency-Key", "key-1")
		other, ok := s.Tokens.Lookup(r.JSON(t)["secret"].(string))
		if !ok || other.ID == tok.ID {
			t.Fatalf("another caller's key-1 returned the first caller's token")
		}
		if s.LastSeq() <= before {
			t.Fatal("another caller's key-1 appended nothing")
		}
	})

	t.Run("no_key_creates_every_time", func(t *testing.T) {
		s := s.For(t)
		a := s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", servicetest.AdminSecret, body).JSON(t)["secret"]
		b := s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", servicetest.AdminSecret, body).JSON(t)["secret"]
		if a == b {
			t.Fatal("two creates without a key returned the same secret")
		}
	})
}
