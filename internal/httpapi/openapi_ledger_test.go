package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// Every route answers as the ledger's own OpenAPI document says: each
// operation of internal/httpapi/openapi.json is called through the real
// server at least once with a success status, and with the error statuses
// it documents, and every answer validates against the document. (The
// Unleash token operations are exercised by TestUnleashRoutesMatchUnleashSchemas,
// against both documents.)

type oaStep struct {
	name   string
	opID   string
	status int
	req    func(s *servicetest.Service) servicetest.Response
	after  func(t testing.TB, r servicetest.Response)
}

func TestEveryRouteAnswersAsTheLedgersDocumentSays(t *testing.T) {
	own := oaLoadOwn(t)
	unleashOps := oaLoad(t).ops
	// Checkpoints soon, so that the integrity routes have one to answer from.
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.CheckpointInterval = 200 * time.Millisecond })
	s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "p1", "name": "P1"})
	editor := s.CreateUser("oa2-editor", "Editor")
	member := s.CreateUser("oa2-member", "Viewer")
	bot := s.CreateServiceAccount("oa2-bot", "Viewer")
	backendSecret, backendID := s.CreateToken("backend", "development", "p1")
	future := servicetest.FromNow(72 * time.Hour)
	textPlain := []string{"Content-Type", "text/plain"}

	var saID, saTokenID, userID, userPATID, roleID int
	intOf := func(t testing.TB, r servicetest.Response, key string) int {
		v, ok := r.JSON(t)[key].(float64)
		if !ok {
			t.Fatalf("no integer %q in %s", key, r.Body)
		}
		return int(v)
	}

	steps := []oaStep{
		// service accounts
		{"list_service_accounts", "getServiceAccounts", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/service-account", servicetest.AdminSecret, nil)
		}, nil},
		{"create_service_account", "createServiceAccount", 201, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/service-account", servicetest.AdminSecret, map[string]any{"name": "oa2-sa", "username": "oa2-sa", "rootRole": "Viewer"})
		}, func(t testing.TB, r servicetest.Response) { saID = intOf(t, r, "id") }},
		{"create_service_account_twice", "createServiceAccount", 409, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/service-account", servicetest.AdminSecret, map[string]any{"name": "oa2-sa", "username": "oa2-sa", "rootRole": "Viewer"})
		}, nil},
		{"create_service_account_without_role", "createServiceAccount", 400, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/service-account", servicetest.AdminSecret, map[string]any{"name": "x", "username": "x"})
		}, nil},
		{"create_service_account_with_text_plain", "createServiceAccount", 415, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/service-account", servicetest.AdminSecret, `{}`, textPlain...)
		}, nil},
		{"update_service_account", "updateServiceAccount", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("PUT", fmt.Sprintf("/api/admin/service-account/%d", saID), servicetest.AdminSecret, map[string]any{"name": "oa2-sa-renamed"})
		}, nil},
		{"update_unknown_service_account", "updateServiceAccount", 404, func(s *servicetest.Service) servicetest.Response {
			return s.Do("PUT", "/api/admin/service-account/999999", servicetest.AdminSecret, map[string]any{"name": "x"})
		}, nil},
		{"list_service_account_tokens", "getServiceAccountTokens", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", fmt.Sprintf("/api/admin/service-account/%d/token", bot.IntID), servicetest.AdminSecret, nil)
		}, nil},
		{"create_service_account_token", "createServiceAccountToken", 201, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", fmt.Sprintf("/api/admin/service-account/%d/token", saID), servicetest.AdminSecret, map[string]any{"description": "deploy", "expiresAt": future})
		}, func(t testing.TB, r servicetest.Response) { saTokenID = intOf(t, r, "id") }},
		{"update_service_account_token_to_never", "updateServiceAccountTokenExpiry", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("PUT", fmt.Sprintf("/api/admin/service-account/%d/token/%d", saID, saTokenID), servicetest.AdminSecret, `{"expiresAt":null}`)
		}, nil},
		{"delete_service_account_token", "deleteServiceAccountToken", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("DELETE", fmt.Sprintf("/api/admin/service-account/%d/token/%d", saID, saTokenID), servicetest.AdminSecret, nil)
		}, nil},
		{"delete_unknown_service_account_token", "deleteServiceAccountToken", 404, func(s *servicetest.Service) servicetest.Response {
			return s.Do("DELETE", fmt.Sprintf("/api/admin/service-account/%d/token/999999", saID), servicetest.AdminSecret, nil)
		}, nil},
		{"delete_service_account", "deleteServiceAccount", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("DELETE", fmt.Sprintf("/api/admin/service-account/%d", saID), servicetest.AdminSecret, nil)
		}, nil},
		{"list_service_accounts_as_editor", "getServiceAccounts", 403, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/service-account", editor.Secret, nil)
		}, nil},

		// users (the create body is the one Unleash's user form sends)
		{"list_users", "getUsers", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/user-admin", servicetest.AdminSecret, nil)
		}, nil},
		{"list_users_anonymously", "getUsers", 401, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/user-admin", "", nil)
		}, nil},
		{"create_user_from_unleash_form", "createUser", 201, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/user-admin", servicetest.AdminSecret, `{"name":"Oa User","email":"oa2-user@example.com","sendEmail":false,"rootRole":3}`)
		}, func(t testing.TB, r servicetest.Response) { userID = intOf(t, r, "id") }},
		{"create_user_twice", "createUser", 409, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/user-admin", servicetest.AdminSecret, `{"name":"Oa User","email":"oa2-user@example.com","sendEmail":false,"rootRole":3}`)
		}, nil},
		{"get_user", "getUser", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", fmt.Sprintf("/api/admin/user-admin/%d", userID), servicetest.AdminSecret, nil)
		}, nil},
		{"get_unknown_user", "getUser", 404, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/user-admin/999999", servicetest.AdminSecret, nil)
		}, nil},
		{"get_user_by_a_name", "getUser", 400, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/user-admin/ann", servicetest.AdminSecret, nil)
		}, nil},
		{"update_user_role", "updateUser", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("PUT", fmt.Sprintf("/api/admin/user-admin/%d", userID), servicetest.AdminSecret, map[string]any{"rootRole": 2})
		}, nil},
		{"create_first_pat_on_behalf", "createPatOnBehalf", 201, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", fmt.Sprintf("/api/admin/user-admin/%d/tokens", userID), servicetest.AdminSecret, map[string]any{"description": "first", "expiresAt": future})
		}, func(t testing.TB, r servicetest.Response) { userPATID = intOf(t, r, "id") }},
		{"create_second_pat_on_behalf", "createPatOnBehalf", 403, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", fmt.Sprintf("/api/admin/user-admin/%d/tokens", userID), servicetest.AdminSecret, map[string]any{"description": "second", "expiresAt": future})
		}, nil},
		{"list_user_pats", "getUserPats", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", fmt.Sprintf("/api/admin/user-admin/%d/tokens", userID), servicetest.AdminSecret, nil)
		}, nil},
		{"update_user_pat_expiry", "updateUserPatExpiry", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("PUT", fmt.Sprintf("/api/admin/user-admin/%d/tokens/%d", userID, userPATID), servicetest.AdminSecret, map[string]any{"expiresAt": future})
		}, nil},
		{"update_user_pat_expiry_to_never", "updateUserPatExpiry", 400, func(s *servicetest.Service) servicetest.Response {
			return s.Do("PUT", fmt.Sprintf("/api/admin/user-admin/%d/tokens/%d", userID, userPATID), servicetest.AdminSecret, `{"expiresAt":null}`)
		}, nil},
		{"delete_user_pat", "deleteUserPat", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("DELETE", fmt.Sprintf("/api/admin/user-admin/%d/tokens/%d", userID, userPATID), servicetest.AdminSecret, nil)
		}, nil},
		{"delete_user", "deleteUser", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("DELETE", fmt.Sprintf("/api/admin/user-admin/%d", userID), servicetest.AdminSecret, nil)
		}, nil},

		// roles
		{"list_roles", "getRoles", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/roles", servicetest.AdminSecret, nil)
		}, nil},
		{"create_role", "createRole", 201, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/roles", servicetest.AdminSecret, map[string]any{"name": "oa2-deployer", "type": "custom",
				"description": "d", "permissions": []map[string]any{{"name": "CREATE_PROJECT_API_TOKEN"}}})
		}, func(t testing.TB, r servicetest.Response) { roleID = intOf(t, r, "id") }},
		{"get_role", "getRole", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", fmt.Sprintf("/api/admin/roles/%d", roleID), servicetest.AdminSecret, nil)
		}, nil},
		{"get_predefined_role", "getRole", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/roles/2", servicetest.AdminSecret, nil)
		}, nil},
		{"get_unknown_role", "getRole", 404, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/roles/999999", servicetest.AdminSecret, nil)
		}, nil},
		{"update_role", "updateRole", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("PUT", fmt.Sprintf("/api/admin/roles/%d", roleID), servicetest.AdminSecret, map[string]any{"description": "changed",
				"permissions": []map[string]any{{"name": "READ_PROJECT_API_TOKEN"}}})
		}, nil},
		{"update_predefined_role", "updateRole", 403, func(s *servicetest.Service) servicetest.Response {
			return s.Do("PUT", "/api/admin/roles/2", servicetest.AdminSecret, map[string]any{"description": "x"})
		}, nil},
		{"delete_role", "deleteRole", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("DELETE", fmt.Sprintf("/api/admin/roles/%d", roleID), servicetest.AdminSecret, nil)
		}, nil},

		// projects
		{"list_projects", "getProjects", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/projects", member.Secret, nil)
		}, nil},
		{"create_project", "createProject", 201, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "oa2", "name": "OA2"}, "Idempotency-Key", "oa2-project")
		}, nil},
		{"create_project_retried", "createProject", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "oa2", "name": "OA2"}, "Idempotency-Key", "oa2-project")
		}, nil},
		{"create_project_key_reused", "createProject", 422, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "oa3", "name": "OA3"}, "Idempotency-Key", "oa2-project")
		}, nil},
		{"create_project_twice", "createProject", 409, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "oa2", "name": "OA2"})
		}, nil},
		{"create_project_with_a_bad_id", "createProject", 400, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "o a", "name": "x"})
		}, nil},
		{"create_project_too_large", "createProject", 413, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "big", "name": strings.Repeat("x", 70<<10)})
		}, nil},
		{"update_project", "updateProject", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("PUT", "/api/admin/projects/oa2", servicetest.AdminSecret, map[string]any{"name": "OA2 renamed"})
		}, nil},
		{"update_unknown_project", "updateProject", 404, func(s *servicetest.Service) servicetest.Response {
			return s.Do("PUT", "/api/admin/projects/nope", servicetest.AdminSecret, map[string]any{"name": "x"})
		}, nil},
		{"add_user_to_project", "addUserToProject", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", fmt.Sprintf("/api/admin/projects/oa2/users/%d/roles/4", member.IntID), servicetest.AdminSecret, nil)
		}, nil},
		{"list_projects_with_a_member", "getProjects", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/projects", servicetest.AdminSecret, nil)
		}, nil},
		{"remove_user_from_project", "removeUserFromProject", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("DELETE", fmt.Sprintf("/api/admin/projects/oa2/users/%d/roles/4", member.IntID), servicetest.AdminSecret, nil)
		}, nil},
		{"remove_user_without_the_role", "removeUserFromProject", 404, func(s *servicetest.Service) servicetest.Response {
			return s.Do("DELETE", fmt.Sprintf("/api/admin/projects/oa2/users/%d/roles/4", member.IntID), servicetest.AdminSecret, nil)
		}, nil},
		{"add_service_account_to_project", "addServiceAccountToProject", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", fmt.Sprintf("/api/admin/projects/oa2/service-accounts/%d/roles/5", bot.IntID), servicetest.AdminSecret, nil)
		}, nil},
		{"remove_service_account_from_project", "removeServiceAccountFromProject", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("DELETE", fmt.Sprintf("/api/admin/projects/oa2/service-accounts/%d/roles/5", bot.IntID), servicetest.AdminSecret, nil)
		}, nil},
		{"delete_project", "deleteProject", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("DELETE", "/api/admin/projects/oa2", servicetest.AdminSecret, nil)
		}, nil},
		{"delete_project_as_editor", "deleteProject", 403, func(s *servicetest.Service) servicetest.Response {
			return s.Do("DELETE", "/api/admin/projects/p1", editor.Secret, nil)
		}, nil},

		// environments
		{"list_environments", "getEnvironments", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/environments", editor.Secret, nil)
		}, nil},
		{"create_environment", "createEnvironment", 201, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/environments", servicetest.AdminSecret, map[string]any{"name": "oa2-env", "type": "test"})
		}, nil},
		{"create_environment_twice", "createEnvironment", 409, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/environments", servicetest.AdminSecret, map[string]any{"name": "oa2-env", "type": "test"})
		}, nil},
		{"update_environment", "updateEnvironment", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("PUT", "/api/admin/environments/update/oa2-env", servicetest.AdminSecret, map[string]any{"type": "production"})
		}, nil},
		{"delete_environment", "deleteEnvironment", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("DELETE", "/api/admin/environments/oa2-env", servicetest.AdminSecret, nil)
		}, nil},
		{"delete_unknown_environment", "deleteEnvironment", 404, func(s *servicetest.Service) servicetest.Response {
			return s.Do("DELETE", "/api/admin/environments/oa2-env", servicetest.AdminSecret, nil)
		}, nil},

		// ledger-native
		{"query_events", "getLedgerEvents", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/events?type=token.&limit=2", servicetest.AdminSecret, nil)
		}, func(t testing.TB, r servicetest.Response) {
			if _, ok := r.JSON(t)["next"]; !ok {
				t.Fatalf("a limited page has no next cursor: %.300s", r.Body)
			}
		}},
		{"query_events_by_aggregate", "getLedgerEvents", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/events?aggregate="+backendID, servicetest.AdminSecret, nil)
		}, nil},
		{"query_events_with_a_bad_time", "getLedgerEvents", 400, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/events?since=yesterday", servicetest.AdminSecret, nil)
		}, nil},
		{"list_ledger_tokens", "getLedgerTokens", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/tokens", servicetest.AdminSecret, nil)
		}, nil},
		{"list_ledger_tokens_at_a_sequence", "getLedgerTokens", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/tokens", servicetest.AdminSecret, nil, "X-Ledger-Min-Sequence", "1")
		}, nil},
		{"list_ledger_tokens_with_a_bad_min_sequence", "getLedgerTokens", 400, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/tokens", servicetest.AdminSecret, nil, "X-Ledger-Min-Sequence", "soon")
		}, nil},
		{"list_ledger_tokens_as_editor", "getLedgerTokens", 403, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/tokens", editor.Secret, nil)
		}, nil},
		{"list_ledger_tokens_with_a_client_token", "getLedgerTokens", 403, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/tokens", backendSecret, nil)
		}, nil},
		{"list_ledger_tokens_with_an_unknown_token", "getLedgerTokens", 401, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/tokens", "Bearer user:nope", nil)
		}, nil},
		{"get_ledger_token", "getLedgerToken", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/tokens/"+backendID, "Bearer "+servicetest.AdminSecret, nil)
		}, nil},
		{"get_unknown_ledger_token", "getLedgerToken", 404, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/tokens/nope", servicetest.AdminSecret, nil)
		}, nil},
		{"token_history", "getLedgerTokenHistory", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/tokens/"+backendID+"/history", servicetest.AdminSecret, nil)
		}, nil},
		{"unknown_token_history", "getLedgerTokenHistory", 404, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/tokens/nope/history", servicetest.AdminSecret, nil)
		}, nil},
		{"lookup_a_valid_secret", "lookupLedgerToken", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/ledger/tokens/lookup", servicetest.AdminSecret, map[string]any{"secret": backendSecret})
		}, func(t testing.TB, r servicetest.Response) {
			if bytes.Contains(r.Body, []byte(backendSecret)) {
				t.Fatal("lookup repeats the secret")
			}
		}},
		{"lookup_an_unknown_secret", "lookupLedgerToken", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/ledger/tokens/lookup", servicetest.AdminSecret, map[string]any{"secret": "default:development.nope"})
		}, nil},
		{"lookup_without_a_secret", "lookupLedgerToken", 400, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/ledger/tokens/lookup", servicetest.AdminSecret, map[string]any{})
		}, nil},
		{"lookup_with_text_plain", "lookupLedgerToken", 415, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/ledger/tokens/lookup", servicetest.AdminSecret, `{"secret":"x"}`, textPlain...)
		}, nil},
		{"lookup_from_a_foreign_origin", "lookupLedgerToken", 403, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/ledger/tokens/lookup", servicetest.AdminSecret, map[string]any{"secret": "x"}, "Origin", "https://evil.example")
		}, nil},
		{"state_at_a_sequence", "getLedgerState", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/state?seq=5", servicetest.AdminSecret, nil)
		}, nil},
		{"state_at_a_moment", "getLedgerState", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/state?at="+time.Now().UTC().Format(time.RFC3339), servicetest.AdminSecret, nil)
		}, nil},
		{"state_without_a_point", "getLedgerState", 400, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/state", servicetest.AdminSecret, nil)
		}, nil},
		{"token_state_at_a_sequence", "getLedgerTokenState", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/state/tokens/"+backendID+"?at=3", servicetest.AdminSecret, nil)
		}, nil},
		{"token_state_now", "getLedgerTokenState", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/state/tokens/"+backendID, servicetest.AdminSecret, nil)
		}, nil},
		{"unknown_token_state", "getLedgerTokenState", 404, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/state/tokens/nope?at=3", servicetest.AdminSecret, nil)
		}, nil},
		{"token_state_at_a_malformed_moment", "getLedgerTokenState", 400, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/state/tokens/"+backendID+"?at=yesterday", servicetest.AdminSecret, nil)
		}, nil},

		// integrity
		{"checkpoint", "getLedgerCheckpoint", 200, func(s *servicetest.Service) servicetest.Response {
			servicetest.WaitFor(s.T(), 10*time.Second, func() error {
				if r := s.Do("GET", "/api/ledger/checkpoint", servicetest.AdminSecret, nil); r.Status != http.StatusOK {
					return fmt.Errorf("no checkpoint yet: %d", r.Status)
				}
				return nil
			})
			return s.Do("GET", "/api/ledger/checkpoint", servicetest.AdminSecret, nil)
		}, nil},
		{"inclusion_proof", "getLedgerInclusionProof", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/events/2/proof", servicetest.AdminSecret, nil)
		}, nil},
		{"inclusion_proof_beyond_the_tree", "getLedgerInclusionProof", 422, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/events/2/proof?size=999999", servicetest.AdminSecret, nil)
		}, nil},
		{"consistency_proof", "getLedgerConsistencyProof", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/proof/consistency?from=1", servicetest.AdminSecret, nil)
		}, nil},
		{"consistency_proof_backwards", "getLedgerConsistencyProof", 422, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/proof/consistency?from=5&to=2", servicetest.AdminSecret, nil)
		}, nil},
		{"bundle", "getLedgerBundle", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/bundle?from_seq=1&to_seq=3", servicetest.AdminSecret, nil)
		}, nil},
		{"bundle_backwards", "getLedgerBundle", 422, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/ledger/bundle?from_seq=3&to_seq=2", servicetest.AdminSecret, nil)
		}, nil},

		{"introspect_a_token", "introspectToken", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/ledger/introspect", servicetest.AdminSecret, "token=2YotnFZFEjr1zCsicMWpAA", "Content-Type", "application/x-www-form-urlencoded")
		}, nil},
		{"introspect_without_a_form", "introspectToken", 415, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/ledger/introspect", servicetest.AdminSecret, map[string]any{"token": "x"})
		}, nil},
		{"revoke_as_the_holder", "revokeToken", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/ledger/revoke", "", "token=45ghiukldjahdnhzdauz", "Content-Type", "application/x-www-form-urlencoded")
		}, nil},
		{"revoke_without_a_token", "revokeToken", 400, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/ledger/revoke", "", "token_type_hint=refresh_token", "Content-Type", "application/x-www-form-urlencoded")
		}, nil},
		{"event_schemas", "listEventSchemas", 200, func(s *servicetest.Service) servicetest.Response { return s.Do("GET", "/schemas/events", "", nil) }, nil},
		{"event_schema", "getEventSchema", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/schemas/events/token.revoked.v1.json", "", nil)
		}, nil},
		{"unknown_event_schema", "getEventSchema", 404, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/schemas/events/token.revoked.v9.json", "", nil)
		}, nil},
		// operations
		{"health", "getHealth", 200, func(s *servicetest.Service) servicetest.Response { return s.Do("GET", "/health", "", nil) }, nil},
		{"ready", "getReady", 200, func(s *servicetest.Service) servicetest.Response { return s.Do("GET", "/ready", "", nil) }, nil},
		{"metrics", "getMetrics", 200, func(s *servicetest.Service) servicetest.Response { return s.Do("GET", "/metrics", "", nil) }, nil},
		{"openapi_document", "getOpenAPI", 200, func(s *servicetest.Service) servicetest.Response { return s.Do("GET", "/openapi.json", "", nil) },
			func(t testing.TB, r servicetest.Response) {
				if !bytes.Equal(r.Body, oaOwnDocument()) {
					t.Fatal("GET /openapi.json is not the document in the repository")
				}
			}},
	}

	exercised := map[string]bool{}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			s := s.For(t)
			r := st.req(s)
			if r.Status != st.status {
				t.Fatalf("status %d, want %d: %.400s", r.Status, st.status, r.Body)
			}
			own.check(t, st.opID, r)
			if st.after != nil {
				st.after(t, r)
			}
			if r.Status < 300 {
				exercised[st.opID] = true
			}
		})
	}
	for id := range own.ops {
		if _, ok := unleashOps[id]; !ok && !exercised[id] {
			t.Errorf("operation %s is never answered with success in this test", id)
		}
	}
}

// The 429 answers (per-address limit of failed authentications) are in the
// documented shape, with Retry-After.
func TestRateLimitedAnswersAreAsDocumented(t *testing.T) {
	own := oaLoadOwn(t)
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.UnauthRate, c.UnauthBurst = 0.001, 1 })
	s.Must(http.StatusUnauthorized, "GET", "/api/ledger/tokens", "user:nope", nil)
	for _, op := range []struct{ id, method, path string }{
		{"getLedgerTokens", "GET", "/api/ledger/tokens"},
		{"lookupLedgerToken", "POST", "/api/ledger/tokens/lookup"},
		{"getValidTokens", "POST", "/edge/validate"},
	} {
		t.Run(op.id, func(t *testing.T) {
			s := s.For(t)
			var body any
			if op.method == "POST" {
				body = map[string]any{"tokens": []string{"nope"}}
			}
			r := s.Do(op.method, op.path, "user:nope", body)
			if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
				t.Fatalf("status %d, Retry-After %q, want 429 with Retry-After: %s", r.Status, r.Header.Get("Retry-After"), r.Body)
			}
			own.check(t, op.id, r)
		})
	}
}

// The document's request schemas accept what the server accepts: each of
// these requests (Unleash's admin UI's bodies among them) validates
// against the document's operation, and the server answers it with
// success.
func TestDocumentedRequestsAreAcceptedByTheServer(t *testing.T) {
	own := oaLoadOwn(t)
	// Route by path alone: the document's server is relative ("/").
	own.doc.Servers = nil
	router, err := legacy.NewRouter(own.doc)
	if err != nil {
		t.Fatal(err)
	}
	s := servicetest.Start(t, "", nil)
	s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "p1", "name": "P1"})
	user := s.CreateUser("oa3-user", "Viewer")
	bot := s.CreateServiceAccount("oa3-bot", "Viewer")
	future := servicetest.FromNow(72 * time.Hour)
	cases := []struct {
		name, method, path, cred, body string
		status                         int
	}{
		{"ui_project_token_form", "POST", "/api/admin/projects/default/api-tokens", servicetest.AdminSecret,
			`{"tokenName":"ui","type":"CLIENT","environment":"development","projects":["default"]}`, 201},
		{"ui_connect_sdk", "POST", "/api/admin/projects/p1/api-tokens", servicetest.AdminSecret,
			`{"environment":"development","type":"frontend","projects":["p1"],"tokenName":"api-key-p1-development"}`, 201},
		{"ui_api_token_form", "POST", "/api/admin/api-tokens", servicetest.AdminSecret,
			`{"tokenName":"ui-all","type":"CLIENT","environment":"development","projects":["*"]}`, 201},
		{"ui_user_form", "POST", "/api/admin/user-admin", servicetest.AdminSecret,
			`{"name":"Oa3","email":"oa3@example.com","sendEmail":false,"rootRole":3}`, 201},
		{"ui_user_edit_form", "PUT", fmt.Sprintf("/api/admin/user-admin/%d", user.IntID), servicetest.AdminSecret,
			fmt.Sprintf(`{"name":"","email":"oa3-user@example.com","sendEmail":false,"rootRole":2,"id":%d}`, user.IntID), 200},
		{"user_with_a_role_name", "POST", "/api/admin/user-admin", servicetest.AdminSecret,
			`{"username":"oa3-named","email":"oa3-named@example.com","rootRole":"Editor"}`, 201},
		{"own_pat", "POST", "/api/admin/user/tokens", user.Secret,
			`{"description":"laptop","expiresAt":"` + future + `"}`, 201},
		{"service_account", "POST", "/api/admin/service-account", servicetest.AdminSecret,
			`{"name":"oa3-sa","username":"oa3-sa","rootRole":3}`, 201},
		{"service_account_token_never_expiring", "PUT", fmt.Sprintf("/api/admin/service-account/%d/token/%d", bot.IntID, 0), servicetest.AdminSecret,
			`{"expiresAt":null}`, 200},
		{"custom_role", "POST", "/api/admin/roles", servicetest.AdminSecret,
			`{"name":"oa3-role","type":"root-custom","description":"d","permissions":[{"name":"READ_CLIENT_API_TOKEN"}]}`, 201},
		{"project", "POST", "/api/admin/projects", servicetest.AdminSecret, `{"id":"oa3","name":"OA3","description":"d"}`, 201},
		{"environment", "POST", "/api/admin/environments", servicetest.AdminSecret, `{"name":"oa3-env","type":"test"}`, 201},
		{"lookup", "POST", "/api/ledger/tokens/lookup", servicetest.AdminSecret, `{"secret":"default:development.nope"}`, 200},
		{"edge_validate", "POST", "/edge/validate", "", `{"tokens":["default:development.nope"]}`, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := s.For(t)
			if strings.Contains(tc.path, "/token/0") {
				// the service account's token: its id from the listing
				pats := s.Must(http.StatusOK, "GET", fmt.Sprintf("/api/admin/service-account/%d/token", bot.IntID), servicetest.AdminSecret, nil).JSON(t)["pats"].([]any)
				tc.path = strings.Replace(tc.path, "/token/0", fmt.Sprintf("/token/%d", int(pats[0].(map[string]any)["id"].(float64))), 1)
			}
			req, err := http.NewRequest(tc.method, s.URL()+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if tc.cred != "" {
				req.Header.Set("Authorization", tc.cred)
			}
			route, params, err := router.FindRoute(req)
			if err != nil {
				t.Fatalf("the document has no operation for %s %s: %v", tc.method, tc.path, err)
			}
			in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{MultiError: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
			if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
				t.Fatalf("the request violates %s (%s):\n%s", oaOwnName, route.Operation.OperationID, oaDescribe(err))
			}
			r := s.Do(tc.method, tc.path, tc.cred, tc.body)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			own.check(t, route.Operation.OperationID, r)
		})
	}
}

// The checks against the ledger's document are only worth something if a
// wrong answer fails, naming where.
func TestLedgerDocumentCatchesViolations(t *testing.T) {
	own := oaLoadOwn(t)
	hdr := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	cases := []struct {
		name, opID string
		status     int
		body, want string
	}{
		{"extra_key_beside_tokens", "getLedgerTokens", 200, `{"lastApplied":1,"tokens":[],"cursor":1}`, `"cursor"`},
		{"token_status_unknown", "getLedgerToken", 200, `{"id":"a","name":"n","type":"client","status":"paused","hint":"h","createdAt":"2026-01-01T00:00:00Z","createdBy":{"kind":"system","id":"system"},"path":"bootstrap","version":1}`, "status"},
		{"error_without_details", "getLedgerTokens", 400, `{"id":"a","name":"BadDataError","message":"m"}`, "details"},
		{"undocumented_status", "getLedgerTokens", 418, `{}`, "status is not supported"},
		{"root_role_with_permissions", "getUsers", 200, `{"users":[],"rootRoles":[{"id":1,"name":"Admin","type":"root","permissions":[]}]}`, `"permissions"`},
		{"project_counter_a_string", "getProjects", 200, `{"version":1,"projects":[{"id":"p","name":"P","featureCount":"none"}]}`, "featureCount"},
		{"user_id_a_string", "getUser", 200, `{"id":"7"}`, "id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := own.validate(tc.opID, servicetest.Response{Status: tc.status, Header: hdr, Body: []byte(tc.body)})
			if err == nil {
				t.Fatalf("the validator accepted %s", tc.body)
			}
			if d := oaDescribe(err); !strings.Contains(d, tc.want) {
				t.Fatalf("the violation does not name %s:\n%s", tc.want, d)
			}
		})
	}
}
