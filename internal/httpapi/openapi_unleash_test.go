package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/tokenledger/tokenledger/internal/httpapi"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// Every answer of an Unleash route must validate against Unleash's own
// schemas (docs/unleash-openapi.md, docs/design.md §9): closed objects, integer ids,
// documented statuses. testdata/unleash-openapi-tokens.json is a verbatim
// copy of /work/shared/spec/unleash-openapi-tokens.json.

const oaSpecFile = "testdata/unleash-openapi-tokens.json"

type oaOperation struct {
	path, method string
	item         *openapi3.PathItem
	op           *openapi3.Operation
}

// oaSpec is the loaded document with its operations by operationId. The
// document declares /api/admin/api-tokens/{name} and .../{token} (the same
// shape, which OpenAPI forbids), so operations are found by id, not routed.
type oaSpec struct {
	doc  *openapi3.T
	name string
	ops  map[string]oaOperation
}

func oaLoad(t testing.TB) *oaSpec {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(oaSpecFile)
	if err != nil {
		t.Fatalf("load %s: %v", oaSpecFile, err)
	}
	sp := oaIndex(t, doc, oaSpecFile)
	if len(sp.ops) != 13 {
		t.Fatalf("%s declares %d operations, want the 13 token operations", oaSpecFile, len(sp.ops))
	}
	return sp
}

// oaOwnName names the ledger's own document in messages.
const oaOwnName = "internal/httpapi/openapi.json"

// oaLoadOwn loads the ledger's own OpenAPI document, the one GET
// /openapi.json serves.
func oaLoadOwn(t testing.TB) *oaSpec {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPIDocument())
	if err != nil {
		t.Fatalf("load %s: %v", oaOwnName, err)
	}
	return oaIndex(t, doc, oaOwnName)
}

// oaIndex finds a document's operations by operationId.
func oaIndex(t testing.TB, doc *openapi3.T, name string) *oaSpec {
	t.Helper()
	sp := &oaSpec{doc: doc, name: name, ops: map[string]oaOperation{}}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" {
				continue
			}
			if _, dup := sp.ops[op.OperationID]; dup {
				t.Fatalf("%s: operationId %s declared twice", name, op.OperationID)
			}
			sp.ops[op.OperationID] = oaOperation{path: path, method: method, item: item, op: op}
		}
	}
	return sp
}

// validate checks one answer against the operation's documented response
// for its status. An undocumented status is a violation too.
func (sp *oaSpec) validate(opID string, r servicetest.Response) error {
	o, ok := sp.ops[opID]
	if !ok {
		return fmt.Errorf("no operation %q in %s", opID, sp.name)
	}
	req, err := http.NewRequest(o.method, "http://127.0.0.1"+o.path, nil)
	if err != nil {
		return err
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, Options: opts,
		Route: &routers.Route{Spec: sp.doc, Path: o.path, PathItem: o.item, Method: o.method, Operation: o.op}}
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: r.Status, Header: r.Header,
		Body: io.NopCloser(bytes.NewReader(r.Body)), Options: opts})
}

// oaDescribe lists the violations of err, one per line, each with the JSON
// path of the offending value.
func oaDescribe(err error) string {
	var lines []string
	var walk func(error)
	walk = func(err error) {
		var me openapi3.MultiError
		var se *openapi3.SchemaError
		var re *openapi3filter.ResponseError
		switch {
		case errors.As(err, &me):
			for _, e := range me {
				walk(e)
			}
		case errors.As(err, &se):
			lines = append(lines, fmt.Sprintf("at /%s: %s", strings.Join(se.JSONPointer(), "/"), se.Reason))
		case errors.As(err, &re) && re.Err != nil:
			walk(re.Err)
			if re.Reason != "" {
				lines[len(lines)-1] = re.Reason + ": " + lines[len(lines)-1]
			}
		default:
			lines = append(lines, err.Error())
		}
	}
	walk(err)
	return strings.Join(lines, "\n")
}

func (sp *oaSpec) check(t testing.TB, opID string, r servicetest.Response) {
	t.Helper()
	if err := sp.validate(opID, r); err != nil {
		t.Fatalf("%s: the %d answer violates %s:\n%s\nbody: %.600s", opID, r.Status, sp.name, oaDescribe(err), r.Body)
	}
}

func TestOpenAPISpecLoadsAndIsTheSharedCopy(t *testing.T) {
	sp := oaLoad(t)
	if err := sp.doc.Validate(context.Background()); err != nil {
		// Expected: the document itself breaks OpenAPI's rules (see above).
		t.Logf("the document does not validate as OpenAPI (known): %v", err)
	}
	// When the shared spec is beside the repository (CI's layout), the copy
	// must not have drifted from it.
	for _, shared := range []string{"../../../shared/spec/unleash-openapi-tokens.json", "/work/shared/spec/unleash-openapi-tokens.json"} {
		want, err := readFileIfExists(shared)
		if err != nil || want == nil {
			continue
		}
		got, err := readFileIfExists(oaSpecFile)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s differs from %s: copy it again", oaSpecFile, shared)
		}
		return
	}
	t.Log("shared spec not found beside the repository; checked the copy only")
}

// TestOpenAPIValidatorCatchesViolations: the checks below are only worth
// something if a wrong body fails, naming where.
func TestOpenAPIValidatorCatchesViolations(t *testing.T) {
	sp := oaLoad(t)
	hdr := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	good := `{"tokens":[{"secret":"x","tokenName":"n","type":"client","environment":"development","project":"*","projects":["*"],"expiresAt":null,"createdAt":"2026-01-01T00:00:00Z","seenAt":null,"alias":null,"secure":true}]}`
	if err := sp.validate("getAllApiTokens", servicetest.Response{Status: 200, Header: hdr, Body: []byte(good)}); err != nil {
		t.Fatalf("a conforming body fails: %s", oaDescribe(err))
	}
	cases := []struct {
		name, opID string
		status     int
		body, path string
	}{
		{"extra_key_in_a_token", "getAllApiTokens", 200, strings.Replace(good, `"secure":true`, `"secure":true,"status":"active"`, 1), "/tokens/0"},
		{"missing_required_createdAt", "getAllApiTokens", 200, strings.Replace(good, `"createdAt":"2026-01-01T00:00:00Z",`, "", 1), "/tokens/0"},
		{"unknown_token_type", "getAllApiTokens", 200, strings.Replace(good, `"client"`, `"personal"`, 1), "/tokens/0/type"},
		{"createdAt_not_a_date_time", "getAllApiTokens", 200, strings.Replace(good, `2026-01-01T00:00:00Z`, `yesterday`, 1), "/tokens/0/createdAt"},
		{"extra_key_beside_tokens", "getAllApiTokens", 200, `{"tokens":[],"next":1}`, `at /: property "next" is unsupported`},
		{"pat_id_a_string", "createPat", 201, `{"id":"7","description":"d","expiresAt":"2030-01-01T00:00:00Z","createdAt":"2026-01-01T00:00:00Z"}`, "/id"},
		{"edge_token_with_status", "getValidTokens", 200, `{"tokens":[{"token":"a","type":"client","projects":["*"],"environment":"e","status":"Validated"}]}`, "/tokens/0"},
		{"user_id_a_string", "getMe", 200, `{"user":{"id":"u1"},"permissions":[],"feedback":[],"splash":{}}`, "/user/id"},
		{"undocumented_status", "deleteApiToken", 204, ``, "status is not supported"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := sp.validate(tc.opID, servicetest.Response{Status: tc.status, Header: hdr, Body: []byte(tc.body)})
			if err == nil {
				t.Fatalf("the validator accepted %s", tc.body)
			}
			d := oaDescribe(err)
			if !strings.Contains(d, tc.path) {
				t.Fatalf("the violation does not name %q:\n%s", tc.path, d)
			}
			t.Logf("rejected: %s", d)
		})
	}
}

// TestUnleashRoutesMatchUnleashSchemas: every answer of an Unleash token
// route validates against Unleash's own document and against the ledger's
// (which reuses Unleash's schemas and adds the statuses the ledger answers).
func TestUnleashRoutesMatchUnleashSchemas(t *testing.T) {
	sp := oaLoad(t)
	own := oaLoadOwn(t)
	s := servicetest.Start(t, "", nil)
	s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "p1", "name": "P1"})
	user := s.CreateUser("oa-editor", "Editor")
	viewer := s.CreateUser("oa-viewer", "Viewer")
	admin := s.CreateUser("oa-admin", "Admin")
	sa := s.CreateServiceAccount("oa-ci", "Editor")
	_, p1Token := s.CreateToken("frontend", "development", "p1")

	// State carried from one step to the next.
	var backendSecret, backendID, projectTokenID string
	var patID int
	created := func(t testing.TB, r servicetest.Response) {
		backendSecret = r.JSON(t)["secret"].(string)
		tok, ok := s.Tokens.Lookup(backendSecret)
		if !ok {
			t.Fatal("created token not found")
		}
		backendID = tok.ID
	}
	textPlain := []string{"Content-Type", "text/plain"}
	expiring := "2030-06-01T12:00:00Z"

	steps := []struct {
		name   string
		opID   string
		status int
		req    func(s *servicetest.Service) servicetest.Response
		after  func(t testing.TB, r servicetest.Response)
	}{
		{"create_backend_token", "createApiToken", 201, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/api-tokens", servicetest.AdminSecret, map[string]any{"tokenName": "oa", "type": "backend",
				"environment": "production", "projects": []string{"default", "p1"}, "expiresAt": expiring})
		}, created},
		{"create_frontend_token_with_defaults", "createApiToken", 201, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/api-tokens", admin.Secret, map[string]any{"tokenName": "oa-fe", "type": "FRONTEND"})
		}, nil},
		{"create_client_token", "createApiToken", 201, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/api-tokens", servicetest.AdminSecret, map[string]any{"tokenName": "oa", "type": "client"})
		}, nil},
		{"list_tokens_as_admin_token", "getAllApiTokens", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/api-tokens", servicetest.AdminSecret, nil)
		}, nil},
		{"list_tokens_as_editor", "getAllApiTokens", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/api-tokens", user.Secret, nil)
		}, nil},
		{"list_tokens_as_service_account", "getAllApiTokens", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/api-tokens", sa.Secret, nil)
		}, nil},
		{"get_tokens_by_name", "getApiTokensByName", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/api-tokens/oa", servicetest.AdminSecret, nil)
		}, func(t testing.TB, r servicetest.Response) {
			if n := len(r.JSON(t)["tokens"].([]any)); n != 2 {
				t.Fatalf("%d tokens named oa, want 2", n)
			}
		}},
		{"get_tokens_by_unknown_name", "getApiTokensByName", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/api-tokens/nobody", servicetest.AdminSecret, nil)
		}, nil},
		{"update_expiry", "updateApiToken", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("PUT", "/api/admin/api-tokens/"+backendID, servicetest.AdminSecret, map[string]any{"expiresAt": "2031-01-01T00:00:00Z"})
		}, nil},
		{"update_expiry_by_secret", "updateApiToken", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("PUT", "/api/admin/api-tokens/"+backendSecret, servicetest.AdminSecret, map[string]any{"expiresAt": "2032-01-01T00:00:00Z"})
		}, nil},
		{"update_unknown_token", "updateApiToken", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("PUT", "/api/admin/api-tokens/unknown", servicetest.AdminSecret, map[string]any{"expiresAt": "2031-01-01T00:00:00Z"})
		}, nil},
		{"list_project_tokens", "getProjectApiTokens", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/projects/p1/api-tokens", servicetest.AdminSecret, nil)
		}, func(t testing.TB, r servicetest.Response) {
			if n := len(r.JSON(t)["tokens"].([]any)); n != 2 {
				t.Fatalf("%d tokens in p1, want 2", n)
			}
		}},
		{"create_project_token", "createProjectApiToken", 201, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/projects/p1/api-tokens", servicetest.AdminSecret, map[string]any{"tokenName": "oa-p1", "type": "backend",
				"environment": "development", "expiresAt": expiring})
		}, func(t testing.TB, r servicetest.Response) {
			tok, _ := s.Tokens.Lookup(r.JSON(t)["secret"].(string))
			projectTokenID = tok.ID
		}},
		{"create_project_token_in_default_as_editor", "createProjectApiToken", 201, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/projects/default/api-tokens", user.Secret, map[string]any{"tokenName": "oa-default", "type": "frontend"})
		}, nil},
		{"create_project_token_as_unleash_ui_sends_it", "createProjectApiToken", 201, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/projects/default/api-tokens", user.Secret,
				`{"tokenName":"oa-ui","type":"CLIENT","environment":"development","projects":["default"]}`)
		}, nil},
		{"create_token_as_unleash_ui_sends_it", "createApiToken", 201, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/api-tokens", servicetest.AdminSecret,
				`{"tokenName":"oa-ui-all","type":"CLIENT","environment":"development","projects":["*"]}`)
		}, nil},
		{"create_project_token_for_another_project", "createProjectApiToken", 400, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/projects/default/api-tokens", servicetest.AdminSecret,
				`{"tokenName":"oa-ui","type":"CLIENT","environment":"development","projects":["p1"]}`)
		}, nil},
		{"delete_project_token", "deleteProjectApiToken", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("DELETE", "/api/admin/projects/p1/api-tokens/"+projectTokenID, servicetest.AdminSecret, nil)
		}, nil},
		{"delete_project_token_by_id_of_p1_frontend", "deleteProjectApiToken", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("DELETE", "/api/admin/projects/p1/api-tokens/"+p1Token, servicetest.AdminSecret, nil)
		}, nil},
		{"validate_for_edge", "getValidTokens", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/edge/validate", "", map[string]any{"tokens": []string{backendSecret, servicetest.AdminSecret, user.Secret, "nope", ""}})
		}, func(t testing.TB, r servicetest.Response) {
			if n := len(r.JSON(t)["tokens"].([]any)); n != 2 {
				t.Fatalf("edge validate: %d tokens, want 2 (backend, admin; never a PAT)", n)
			}
		}},
		{"validate_for_edge_empty", "getValidTokens", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/edge/validate", "", map[string]any{"tokens": []string{}})
		}, nil},
		{"delete_token", "deleteApiToken", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("DELETE", "/api/admin/api-tokens/"+backendID, servicetest.AdminSecret, nil)
		}, nil},
		{"delete_unknown_token", "deleteApiToken", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("DELETE", "/api/admin/api-tokens/"+backendID, servicetest.AdminSecret, nil)
		}, nil},
		{"list_tokens_after_delete", "getAllApiTokens", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/api-tokens", servicetest.AdminSecret, nil)
		}, nil},
		{"create_pat", "createPat", 201, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/user/tokens", user.Secret, map[string]any{"description": "oa", "expiresAt": expiring})
		}, func(t testing.TB, r servicetest.Response) {
			b := r.JSON(t)
			if b["secret"] == nil {
				t.Fatal("the create answer lacks the PAT's secret")
			}
			patID = int(b["id"].(float64))
		}},
		{"list_pats", "getPats", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/user/tokens", user.Secret, nil)
		}, func(t testing.TB, r servicetest.Response) {
			pats := r.JSON(t)["pats"].([]any)
			if len(pats) != 2 {
				t.Fatalf("%d PATs, want 2", len(pats))
			}
			for _, p := range pats {
				if _, ok := p.(map[string]any)["secret"]; ok {
					t.Fatal("a PAT listing carries a secret")
				}
			}
		}},
		{"delete_pat", "deletePat", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("DELETE", fmt.Sprintf("/api/admin/user/tokens/%d", patID), user.Secret, nil)
		}, nil},
		{"me_as_user", "getMe", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/user", user.Secret, nil)
		}, nil},
		{"me_as_admin_user", "getMe", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/user", admin.Secret, nil)
		}, nil},
		{"me_as_service_account", "getMe", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/user", sa.Secret, nil)
		}, nil},
		{"me_as_admin_token", "getMe", 200, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/user", servicetest.AdminSecret, nil)
		}, func(t testing.TB, r servicetest.Response) {
			if bytes.Contains(r.Body, []byte(servicetest.AdminSecret)) {
				t.Fatal("GET /api/admin/user echoes the admin token's secret")
			}
		}},

		// documented error answers
		{"list_tokens_anonymously", "getAllApiTokens", 401, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/api-tokens", "", nil)
		}, nil},
		{"list_tokens_as_viewer", "getAllApiTokens", 403, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/api-tokens", viewer.Secret, nil)
		}, nil},
		{"get_by_name_with_unknown_credential", "getApiTokensByName", 401, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/api-tokens/oa", "user:nope", nil)
		}, nil},
		{"create_token_as_viewer", "createApiToken", 403, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/api-tokens", viewer.Secret, map[string]any{"tokenName": "x", "type": "backend"})
		}, nil},
		{"create_token_with_text_plain", "createApiToken", 415, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/api-tokens", servicetest.AdminSecret, `{"tokenName":"x","type":"backend"}`, textPlain...)
		}, nil},
		{"update_token_with_text_plain", "updateApiToken", 415, func(s *servicetest.Service) servicetest.Response {
			return s.Do("PUT", "/api/admin/api-tokens/x", servicetest.AdminSecret, `{"expiresAt":"2031-01-01T00:00:00Z"}`, textPlain...)
		}, nil},
		{"delete_token_as_editor", "deleteApiToken", 403, func(s *servicetest.Service) servicetest.Response {
			return s.Do("DELETE", "/api/admin/api-tokens/x", user.Secret, nil)
		}, nil},
		{"list_tokens_of_unknown_project", "getProjectApiTokens", 404, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/projects/nope/api-tokens", servicetest.AdminSecret, nil)
		}, nil},
		{"create_project_token_of_bad_type", "createProjectApiToken", 400, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/projects/p1/api-tokens", servicetest.AdminSecret, map[string]any{"tokenName": "x", "type": "admin"})
		}, nil},
		{"create_project_token_as_viewer", "createProjectApiToken", 403, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/projects/p1/api-tokens", viewer.Secret, map[string]any{"tokenName": "x", "type": "backend"})
		}, nil},
		{"delete_unknown_project_token", "deleteProjectApiToken", 404, func(s *servicetest.Service) servicetest.Response {
			return s.Do("DELETE", "/api/admin/projects/p1/api-tokens/unknown", servicetest.AdminSecret, nil)
		}, nil},
		{"list_pats_as_admin_token", "getPats", 403, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/user/tokens", servicetest.AdminSecret, nil)
		}, nil},
		{"create_pat_anonymously", "createPat", 401, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/api/admin/user/tokens", "", map[string]any{"description": "x", "expiresAt": expiring})
		}, nil},
		{"delete_pat_as_service_account", "deletePat", 403, func(s *servicetest.Service) servicetest.Response {
			return s.Do("DELETE", "/api/admin/user/tokens/1", sa.Secret, nil)
		}, nil},
		{"me_anonymously", "getMe", 401, func(s *servicetest.Service) servicetest.Response {
			return s.Do("GET", "/api/admin/user", "", nil)
		}, nil},
		{"validate_for_edge_without_tokens", "getValidTokens", 400, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/edge/validate", "", map[string]any{})
		}, nil},
		{"validate_for_edge_too_large", "getValidTokens", 413, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/edge/validate", "", map[string]any{"tokens": []string{strings.Repeat("x", 70<<10)}})
		}, nil},
		{"validate_for_edge_with_text_plain", "getValidTokens", 415, func(s *servicetest.Service) servicetest.Response {
			return s.Do("POST", "/edge/validate", "", `{"tokens":[]}`, textPlain...)
		}, nil},
	}
	seen := map[string]bool{}
	for _, st := range steps {
		seen[st.opID] = true
		t.Run(st.name, func(t *testing.T) {
			s := s.For(t)
			r := st.req(s)
			if r.Status != st.status {
				t.Fatalf("status %d, want %d: %.400s", r.Status, st.status, r.Body)
			}
			sp.check(t, st.opID, r)
			own.check(t, st.opID, r)
			if st.after != nil {
				st.after(t, r)
			}
		})
	}
	for id := range sp.ops {
		if !seen[id] {
			t.Errorf("operation %s is not exercised", id)
		}
	}
}

func readFileIfExists(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// oaOwnDocument is the ledger's own OpenAPI document as the repository
// holds it.
func oaOwnDocument() []byte { return httpapi.OpenAPIDocument() }
