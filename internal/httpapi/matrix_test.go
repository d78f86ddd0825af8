package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The permission matrix (docs/unleash-contract.md §3, §4; docs/design.md §8), driven
// through HTTP against the real service: every route × every kind of
// caller → the status Unleash's model gives. A rejected request (401/403),
// and any read, appends nothing to the stream.

// mxCaller is a column of the matrix: one kind of credential.
type mxCaller int

const (
	mxAdminToken     mxCaller = iota // INIT admin token (deprecated, ADMIN)
	mxAdmin                          // user, root role Admin
	mxEditor                         // user, root role Editor
	mxViewer                         // user, root role Viewer
	mxClientOps                      // user, custom root role: CREATE/READ/UPDATE/DELETE_CLIENT_API_TOKEN
	mxFrontendReader                 // user, custom root role: READ_FRONTEND_API_TOKEN only
	mxP1Member                       // Viewer, project role Member on p1
	mxP1Reader                       // Viewer, custom project role on p1: READ_PROJECT_API_TOKEN only
	mxEditorSA                       // service account, root role Editor
	mxBackendToken                   // a backend API token
	mxFrontendToken                  // a frontend API token
	mxAnonymous                      // no Authorization header
	mxUnknownCred                    // a well-formed secret the ledger never issued
	mxCallers
)

var mxCallerNames = [mxCallers]string{"admin_token", "admin", "editor", "viewer", "client_ops",
	"frontend_reader", "p1_member", "p1_reader", "editor_service_account", "backend_token",
	"frontend_token", "anonymous", "unknown_credential"}

func (c mxCaller) String() string { return mxCallerNames[c] }

// mxWant is one row of the matrix, in mxCaller column order.
type mxWant [mxCallers]int

// Extra bootstrap admin tokens: the admin callers' successful deletions of
// an admin token consume these, so the spare admin token survives the table
// and its one successful deletion is the last request of the test.
const (
	mxExtraAdmin1 = "*:*.test-admin-secret-cccccccccccccccccccccccccccc"
	mxExtraAdmin2 = "*:*.test-admin-secret-dddddddddddddddddddddddddddd"
)

// mxFixture is the shared service and everything the rows refer to.
type mxFixture struct {
	s     *servicetest.Service
	creds [mxCallers]string
	users map[mxCaller]servicetest.Principal

	backendID, backendSecret, frontendID, spareAdminID string
	extraAdmins                                        []string // ids, consumed by admin callers
}

// mxTokenID returns the id of the token with the given full secret.
func mxTokenID(t testing.TB, s *servicetest.Service, secret string) string {
	t.Helper()
	tok, ok := s.Tokens.Lookup(secret)
	if !ok {
		t.Fatalf("no token for a bootstrap secret")
	}
	return tok.ID
}

// mxAddProjectRole gives a user a project role (4 Owner, 5 Member, or a
// custom project role's id).
func mxAddProjectRole(s *servicetest.Service, project string, userIntID, roleID int) {
	s.T().Helper()
	s.Must(http.StatusOK, "POST", fmt.Sprintf("/api/admin/projects/%s/users/%d/roles/%d", project, userIntID, roleID), servicetest.AdminSecret, nil)
}

func newMXFixture(t *testing.T) *mxFixture {
	s := servicetest.Start(t, "", map[string]string{"INIT_ADMIN_API_TOKENS": strings.Join(
		[]string{servicetest.AdminSecret, servicetest.SpareAdminSecret, mxExtraAdmin1, mxExtraAdmin2}, ", ")})
	f := &mxFixture{s: s, users: map[mxCaller]servicetest.Principal{}}
	s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "p1", "name": "P1"})

	clientOps := s.CreateRole("client-ops", "root-custom", "CREATE_CLIENT_API_TOKEN", "READ_CLIENT_API_TOKEN",
		"UPDATE_CLIENT_API_TOKEN", "DELETE_CLIENT_API_TOKEN")
	s.CreateRole("frontend-reader", "root-custom", "READ_FRONTEND_API_TOKEN")
	p1Reader := s.CreateRole("p1-token-reader", "custom", "READ_PROJECT_API_TOKEN")

	f.users[mxAdmin] = s.CreateUser("mx-admin", "Admin")
	f.users[mxEditor] = s.CreateUser("mx-editor", 2) // integer ids work as well as names
	f.users[mxViewer] = s.CreateUser("mx-viewer", "Viewer")
	f.users[mxClientOps] = s.CreateUser("mx-client-ops", clientOps)
	f.users[mxFrontendReader] = s.CreateUser("mx-frontend-reader", "frontend-reader") // a custom role by name
	f.users[mxP1Member] = s.CreateUser("mx-p1-member", 3)
	mxAddProjectRole(s, "p1", f.users[mxP1Member].IntID, 5)
	f.users[mxP1Reader] = s.CreateUser("mx-p1-reader", "Viewer")
	mxAddProjectRole(s, "p1", f.users[mxP1Reader].IntID, p1Reader)
	sa := s.CreateServiceAccount("mx-ci-editor", "Editor")

	var backendSecret, frontendSecret string
	backendSecret, f.backendID = s.CreateToken("backend", "development")
	frontendSecret, f.frontendID = s.CreateToken("frontend", "development")
	f.backendSecret = backendSecret
	f.spareAdminID = mxTokenID(t, s, servicetest.SpareAdminSecret)
	f.extraAdmins = []string{mxTokenID(t, s, mxExtraAdmin1), mxTokenID(t, s, mxExtraAdmin2)}

	f.creds = [mxCallers]string{
		mxAdminToken:     servicetest.AdminSecret,
		mxEditorSA:       sa.Secret,
		mxBackendToken:   backendSecret,
		mxFrontendToken:  frontendSecret,
		mxAnonymous:      "",
		mxUnknownCred:    "*:development.0123456789abcdef0123456789abcdef0123456789abcdef01234567",
		mxAdmin:          f.users[mxAdmin].Secret,
		mxEditor:         f.users[mxEditor].Secret,
		mxViewer:         f.users[mxViewer].Secret,
		mxClientOps:      f.users[mxClientOps].Secret,
		mxFrontendReader: f.users[mxFrontendReader].Secret,
		mxP1Member:       f.users[mxP1Member].Secret,
		mxP1Reader:       f.users[mxP1Reader].Secret,
	}
	return f
}

// mxRoute is a row of the matrix.
type mxRoute struct {
	action string // behaviour name: "<caller>_can|cannot_<action>"
	method string
	// target returns the request path and, for a request that consumes a
	// token (DELETE), that token's id; it may create a fresh target.
	target func(s *servicetest.Service, f *mxFixture, c mxCaller, want int) (path, consumed string)
	body   func(name string) any
	// mutates: a 2xx answer must append to the stream.
	mutates bool
	// recorded: an audit-trail read; its answer and its refusal of an
	// authenticated principal (403) append exactly one audit.queried.
	recorded bool
	want     mxWant
}

func mxPath(p string) func(*servicetest.Service, *mxFixture, mxCaller, int) (string, string) {
	return func(*servicetest.Service, *mxFixture, mxCaller, int) (string, string) { return p, "" }
}

// mxFresh creates a new token for one row and targets it under prefix.
func mxFresh(prefix, typ string, projects ...string) func(*servicetest.Service, *mxFixture, mxCaller, int) (string, string) {
	return func(s *servicetest.Service, _ *mxFixture, _ mxCaller, _ int) (string, string) {
		_, id := s.CreateToken(typ, "development", projects...)
		return prefix + id, id
	}
}

// mxAdminTokenTarget: an admin caller expected to succeed deletes one of the
// extra admin tokens; everybody else is refused the spare admin token.
func mxAdminTokenTarget(s *servicetest.Service, f *mxFixture, _ mxCaller, want int) (string, string) {
	id := f.spareAdminID
	if want < 300 {
		if len(f.extraAdmins) == 0 {
			s.T().Fatal("matrix: more successful admin-token deletions than extra admin tokens")
		}
		id, f.extraAdmins = f.extraAdmins[0], f.extraAdmins[1:]
	}
	return "/api/admin/api-tokens/" + id, id
}

// mxSelfRole: users try to change their own root role to Admin (privilege
// escalation); token callers target a throwaway user.
func mxSelfRole(s *servicetest.Service, f *mxFixture, c mxCaller, _ int) (string, string) {
	u, ok := f.users[c]
	if !ok {
		r := s.Must(http.StatusCreated, "POST", "/api/admin/user-admin", servicetest.AdminSecret,
			map[string]any{"username": "mx-throwaway-" + c.String(), "rootRole": "Viewer"})
		u.IntID = int(r.JSON(s.T())["id"].(float64))
	}
	return fmt.Sprintf("/api/admin/user-admin/%d", u.IntID), ""
}

func mxTokenBody(typ string) func(string) any {
	return func(name string) any {
		return map[string]any{"tokenName": "mx-" + name, "type": typ, "environment": "development"}
	}
}

func mxConst(v any) func(string) any { return func(string) any { return v } }

const (
	ok200 = http.StatusOK
	ok201 = http.StatusCreated
	no401 = http.StatusUnauthorized
	no403 = http.StatusForbidden
)

// mxRoutes is the matrix. Columns: admin_token, admin, editor, viewer,
// client_ops, frontend_reader, p1_member, p1_reader, editor_service_account,
// backend_token, frontend_token, anonymous, unknown_credential.
func mxRoutes() []mxRoute {
	// Each PUT sets another expiry: one that sets the expiry a token
	// already has changes nothing and appends nothing.
	future := &mxFutureExpiry{}
	return []mxRoute{
		{action: "list_tokens", method: "GET", target: mxPath("/api/admin/api-tokens"),
			want: mxWant{ok200, ok200, ok200, no403, ok200, ok200, no403, no403, ok200, no403, no403, no401, no401}},
		{action: "list_tokens_by_name", method: "GET", target: mxPath("/api/admin/api-tokens/t-backend"),
			want: mxWant{ok200, ok200, ok200, no403, ok200, ok200, no403, no403, ok200, no403, no403, no401, no401}},
		{action: "create_backend_token", method: "POST", target: mxPath("/api/admin/api-tokens"), body: mxTokenBody("backend"), mutates: true,
			want: mxWant{ok201, ok201, no403, no403, ok201, no403, no403, no403, no403, no403, no403, no401, no401}},
		{action: "create_frontend_token", method: "POST", target: mxPath("/api/admin/api-tokens"), body: mxTokenBody("frontend"), mutates: true,
			want: mxWant{ok201, ok201, no403, no403, no403, no403, no403, no403, no403, no403, no403, no401, no401}},
		{action: "update_backend_token", method: "PUT", body: mxConst(future), mutates: true,
			target: func(_ *servicetest.Service, f *mxFixture, _ mxCaller, _ int) (string, string) {
				return "/api/admin/api-tokens/" + f.backendID, ""
			},
			want: mxWant{ok200, ok200, no403, no403, ok200, no403, no403, no403, no403, no403, no403, no401, no401}},
		{action: "update_frontend_token", method: "PUT", body: mxConst(future), mutates: true,
			target: func(_ *servicetest.Service, f *mxFixture, _ mxCaller, _ int) (string, string) {
				return "/api/admin/api-tokens/" + f.frontendID, ""
			},
			want: mxWant{ok200, ok200, no403, no403, no403, no403, no403, no403, no403, no403, no403, no401, no401}},
		{action: "update_spare_admin_token", method: "PUT", body: mxConst(future), mutates: true,
			target: func(_ *servicetest.Service, f *mxFixture, _ mxCaller, _ int) (string, string) {
				return "/api/admin/api-tokens/" + f.spareAdminID, ""
			},
			want: mxWant{ok200, ok200, no403, no403, no403, no403, no403, no403, no403, no403, no403, no401, no401}},
		{action: "delete_backend_token", method: "DELETE", target: mxFresh("/api/admin/api-tokens/", "backend"), mutates: true,
			want: mxWant{ok200, ok200, no403, no403, ok200, no403, no403, no403, no403, no403, no403, no401, no401}},
		{action: "delete_frontend_token", method: "DELETE", target: mxFresh("/api/admin/api-tokens/", "frontend"), mutates: true,
			want: mxWant{ok200, ok200, no403, no403, no403, no403, no403, no403, no403, no403, no403, no401, no401}},
		{action: "delete_admin_token", method: "DELETE", target: mxAdminTokenTarget, mutates: true,
			want: mxWant{ok200, ok200, no403, no403, no403, no403, no403, no403, no403, no403, no403, no401, no401}},
		{action: "list_p1_tokens", method: "GET", target: mxPath("/api/admin/projects/p1/api-tokens"),
			want: mxWant{ok200, ok200, no403, no403, no403, no403, ok200, ok200, no403, no403, no403, no401, no401}},
		{action: "create_p1_token", method: "POST", target: mxPath("/api/admin/projects/p1/api-tokens"), body: mxTokenBody("backend"), mutates: true,
			want: mxWant{ok201, ok201, no403, no403, no403, no403, ok201, no403, no403, no403, no403, no401, no401}},
		{action: "create_p1_frontend_token", method: "POST", target: mxPath("/api/admin/projects/p1/api-tokens"), body: mxTokenBody("frontend"), mutates: true,
			want: mxWant{ok201, ok201, no403, no403, no403, no403, ok201, no403, no403, no403, no403, no401, no401}},
		{action: "delete_p1_token", method: "DELETE", target: mxFresh("/api/admin/projects/p1/api-tokens/", "backend", "p1"), mutates: true,
			want: mxWant{ok200, ok200, no403, no403, no403, no403, ok200, no403, no403, no403, no403, no401, no401}},
		// Unleash maps an Editor's project permissions to project default.
		{action: "list_default_tokens", method: "GET", target: mxPath("/api/admin/projects/default/api-tokens"),
			want: mxWant{ok200, ok200, ok200, no403, no403, no403, no403, no403, ok200, no403, no403, no401, no401}},
		{action: "create_default_token", method: "POST", target: mxPath("/api/admin/projects/default/api-tokens"), body: mxTokenBody("backend"), mutates: true,
			want: mxWant{ok201, ok201, ok201, no403, no403, no403, no403, no403, ok201, no403, no403, no401, no401}},
		{action: "delete_default_token", method: "DELETE", target: mxFresh("/api/admin/projects/default/api-tokens/", "backend", "default"), mutates: true,
			want: mxWant{ok200, ok200, ok200, no403, no403, no403, no403, no403, ok200, no403, no403, no401, no401}},
		// PATs: every user manages their own; callers without a user are refused.
		{action: "list_own_pats", method: "GET", target: mxPath("/api/admin/user/tokens"),
			want: mxWant{no403, ok200, ok200, ok200, ok200, ok200, ok200, ok200, no403, no403, no403, no401, no401}},
		{action: "create_own_pat", method: "POST", target: mxPath("/api/admin/user/tokens"), mutates: true,
			body: func(name string) any {
				return map[string]any{"description": name, "expiresAt": servicetest.FromNow(48 * time.Hour)}
			},
			want: mxWant{no403, ok201, ok201, ok201, ok201, ok201, ok201, ok201, no403, no403, no403, no401, no401}},
		// ADMIN-only surfaces.
		{action: "list_users", method: "GET", target: mxPath("/api/admin/user-admin"),
			want: mxWant{ok200, ok200, no403, no403, no403, no403, no403, no403, no403, no403, no403, no401, no401}},
		{action: "make_self_admin", method: "PUT", target: mxSelfRole, body: mxConst(map[string]any{"rootRole": "Admin"}), mutates: true,
			want: mxWant{ok200, ok200, no403, no403, no403, no403, no403, no403, no403, no403, no403, no401, no401}},
		{action: "create_user", method: "POST", target: mxPath("/api/admin/user-admin"), mutates: true,
			body: func(name string) any { return map[string]any{"username": "mx-u-" + name, "rootRole": "Viewer"} },
			want: mxWant{ok201, ok201, no403, no403, no403, no403, no403, no403, no403, no403, no403, no401, no401}},
		{action: "query_ledger_events", method: "GET", recorded: true, target: mxPath("/api/ledger/events"),
			want: mxWant{ok200, ok200, no403, no403, no403, no403, no403, no403, no403, no403, no403, no401, no401}},
		{action: "list_ledger_tokens", method: "GET", target: mxPath("/api/ledger/tokens"),
			want: mxWant{ok200, ok200, no403, no403, no403, no403, no403, no403, no403, no403, no403, no401, no401}},
		{action: "read_token_history", method: "GET", recorded: true,
			target: func(_ *servicetest.Service, f *mxFixture, _ mxCaller, _ int) (string, string) {
				return "/api/ledger/tokens/" + f.backendID + "/history", ""
			},
			want: mxWant{ok200, ok200, no403, no403, no403, no403, no403, no403, no403, no403, no403, no401, no401}},
		{action: "list_service_accounts", method: "GET", target: mxPath("/api/admin/service-account"),
			want: mxWant{ok200, ok200, no403, no403, no403, no403, no403, no403, no403, no403, no403, no401, no401}},
		{action: "list_roles", method: "GET", target: mxPath("/api/admin/roles"),
			want: mxWant{ok200, ok200, no403, no403, no403, no403, no403, no403, no403, no403, no403, no401, no401}},
		{action: "create_project", method: "POST", target: mxPath("/api/admin/projects"), mutates: true,
			body: func(name string) any { return map[string]any{"id": strings.ReplaceAll(name, "_", "-")} },
			want: mxWant{ok201, ok201, no403, no403, no403, no403, no403, no403, no403, no403, no403, no401, no401}},
		// Any signed-in principal may list projects (as in Unleash); API
		// tokens of other types may not call the admin API at all.
		{action: "list_projects", method: "GET", target: mxPath("/api/admin/projects"),
			want: mxWant{ok200, ok200, ok200, ok200, ok200, ok200, ok200, ok200, ok200, no403, no403, no401, no401}},
		// Edge asks without a credential; whatever is sent, the answer is 200.
		{action: "validate_tokens_for_edge", method: "POST", target: mxPath("/edge/validate"),
			want: mxWant{ok200, ok200, ok200, ok200, ok200, ok200, ok200, ok200, ok200, ok200, ok200, ok200, ok200}},
	}
}

func TestPermissionMatrix(t *testing.T) {
	f := newMXFixture(t)
	rows := 0
	for _, rt := range mxRoutes() {
		for c := mxCaller(0); c < mxCallers; c++ {
			want := rt.want[c]
			verb := "can"
			if want >= 400 {
				verb = "cannot"
			}
			name := fmt.Sprintf("%s_%s_%s", c, verb, rt.action)
			rows++
			t.Run(name, func(t *testing.T) {
				s := f.s.For(t)
				path, consumed := rt.target(s, f, c, want)
				var body any
				switch {
				case rt.body != nil:
					body = rt.body(name)
				case rt.action == "validate_tokens_for_edge":
					body = map[string]any{"tokens": []string{f.backendSecret}}
				}
				before := s.LastSeq()
				r := s.Do(rt.method, path, f.creds[c], body)
				after := s.LastSeq()
				if r.Status != want {
					t.Fatalf("%s %s as %s: status %d, want %d: %s", rt.method, path, c, r.Status, want, r.Body)
				}
				switch {
				case rt.recorded && (want == http.StatusOK || want == http.StatusForbidden && c <= mxEditorSA):
					if want >= 400 {
						servicetest.CheckErrorShape(t, r)
					}
					if after != before+1 || s.LastEvent().Type != "audit.queried" {
						t.Fatalf("an audit-trail read (%d) did not append exactly its record: seq %d → %d", want, before, after)
					}
				case want >= 400:
					servicetest.CheckErrorShape(t, r)
					if after != before {
						t.Fatalf("a refused request (%d) appended to the stream: seq %d → %d", want, before, after)
					}
				case rt.mutates:
					if after <= before {
						t.Fatalf("a successful %s appended nothing (seq %d)", rt.method, before)
					}
				default:
					if after != before {
						t.Fatalf("a read appended to the stream: seq %d → %d", before, after)
					}
				}
				if consumed != "" {
					tok, ok := s.Tokens.ByID(consumed)
					if !ok {
						t.Fatalf("target token %s vanished", consumed)
					}
					if gone := want == http.StatusOK; tok.Revoked != gone {
						t.Fatalf("target token revoked=%v after a %d answer", tok.Revoked, r.Status)
					}
				}
				if rt.action == "validate_tokens_for_edge" {
					if n := len(r.JSON(t)["tokens"].([]any)); n != 1 {
						t.Fatalf("edge validate: %d tokens, want 1: %s", n, r.Body)
					}
				}
			})
		}
	}
	if rows < 350 {
		t.Fatalf("matrix shrank: %d rows", rows)
	}

	// The one successful deletion of the spare admin token, last of all: it
	// was refused to everyone above, still works, and is gone afterwards.
	t.Run("admin_token_can_delete_spare_admin_token", func(t *testing.T) {
		s := f.s.For(t)
		s.Must(http.StatusOK, "GET", "/api/admin/api-tokens", servicetest.SpareAdminSecret, nil)
		before := s.LastSeq()
		s.Must(http.StatusOK, "DELETE", "/api/admin/api-tokens/"+f.spareAdminID, servicetest.AdminSecret, nil)
		if s.LastSeq() <= before {
			t.Fatal("deleting the spare admin token appended nothing")
		}
		r := s.Must(http.StatusUnauthorized, "GET", "/api/admin/api-tokens", servicetest.SpareAdminSecret, nil)
		servicetest.CheckErrorShape(t, r)
	})
}

// mxListed is the tokens of a listing answer.
type mxListed struct {
	Secret    string   `json:"secret"`
	TokenName string   `json:"tokenName"`
	Type      string   `json:"type"`
	Projects  []string `json:"projects"`
}

func mxList(t testing.TB, s *servicetest.Service, path, cred string) ([]mxListed, []byte) {
	t.Helper()
	r := s.Must(http.StatusOK, "GET", path, cred, nil)
	var out struct {
		Tokens []mxListed `json:"tokens"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("listing is not {tokens:[...]}: %v: %s", err, r.Body)
	}
	return out.Tokens, r.Body
}

func mxTypes(ts []mxListed) []string {
	var out []string
	for _, tk := range ts {
		if !slices.Contains(out, tk.Type) {
			out = append(out, tk.Type)
		}
	}
	slices.Sort(out)
	return out
}

func mxSecrets(ts []mxListed) []string {
	out := make([]string, 0, len(ts))
	for _, tk := range ts {
		out = append(out, tk.Secret)
	}
	return out
}

func TestTokenVisibility(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "p1", "name": "P1"})
	secrets := []string{servicetest.AdminSecret, servicetest.SpareAdminSecret}
	for _, spec := range []struct{ typ, project string }{
		{"backend", ""}, {"client", ""}, {"frontend", ""}, {"backend", "p1"}, {"frontend", "p1"}, {"backend", "default"},
	} {
		var sec string
		if spec.project == "" {
			sec, _ = s.CreateToken(spec.typ, "development")
		} else {
			sec, _ = s.CreateToken(spec.typ, "development", spec.project)
		}
		secrets = append(secrets, sec)
	}
	// Now: 2 admin, 4 backend/client (2 of them all-projects), 2 frontend.
	clientOps := s.CreateRole("client-ops", "root-custom", "CREATE_CLIENT_API_TOKEN", "READ_CLIENT_API_TOKEN",
		"UPDATE_CLIENT_API_TOKEN", "DELETE_CLIENT_API_TOKEN")
	feReader := s.CreateRole("frontend-reader", "root-custom", "READ_FRONTEND_API_TOKEN")
	admin := s.CreateUser("v-admin", "Admin")
	editor := s.CreateUser("v-editor", "Editor")
	ops := s.CreateUser("v-client-ops", clientOps)
	fe := s.CreateUser("v-frontend-reader", feReader)
	member := s.CreateUser("v-member", "Viewer")
	mxAddProjectRole(s, "p1", member.IntID, 4)
	secrets = append(secrets, admin.Secret, editor.Secret, ops.Secret, fe.Secret, member.Secret)

	cases := []struct {
		name      string
		cred      string
		path      string
		wantTypes []string
		wantN     int
	}{
		{"frontend_reader_lists_only_frontend_tokens", fe.Secret, "/api/admin/api-tokens", []string{"frontend"}, 2},
		{"frontend_reader_by_name_sees_only_frontend_tokens", fe.Secret, "/api/admin/api-tokens/t-frontend", []string{"frontend"}, 2},
		{"frontend_reader_by_name_sees_no_backend_tokens", fe.Secret, "/api/admin/api-tokens/t-backend", nil, 0},
		{"client_ops_lists_client_and_backend_tokens_only", ops.Secret, "/api/admin/api-tokens", []string{"backend", "client"}, 4},
		{"editor_sees_no_admin_tokens", editor.Secret, "/api/admin/api-tokens", []string{"backend", "client", "frontend"}, 6},
		{"admin_user_sees_all_tokens", admin.Secret, "/api/admin/api-tokens", []string{"admin", "backend", "client", "frontend"}, 8},
		{"admin_token_sees_all_tokens", servicetest.AdminSecret, "/api/admin/api-tokens", []string{"admin", "backend", "client", "frontend"}, 8},
		{"project_owner_sees_the_project_tokens_only", member.Secret, "/api/admin/projects/p1/api-tokens", []string{"backend", "frontend"}, 2},
		{"editor_sees_default_project_tokens_without_wildcards", editor.Secret, "/api/admin/projects/default/api-tokens", []string{"backend"}, 1},
		{"admin_project_listing_excludes_admin_tokens", servicetest.AdminSecret, "/api/admin/projects/p1/api-tokens", []string{"backend", "frontend"}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := s.For(t)
			before := s.LastSeq()
			ts, raw := mxList(t, s, tc.path, tc.cred)
			if got := mxTypes(ts); !slices.Equal(got, tc.wantTypes) {
				t.Fatalf("types %v, want %v: %s", got, tc.wantTypes, raw)
			}
			if len(ts) != tc.wantN {
				t.Fatalf("%d tokens, want %d: %s", len(ts), tc.wantN, raw)
			}
			// Listings never carry a full secret: `secret` is the token's
			// id, which no credential check accepts.
			for _, sec := range secrets {
				if bytes.Contains(raw, []byte(sec)) {
					t.Fatalf("listing contains a full secret (hint %s…)", sec[:8])
				}
			}
			for _, tk := range ts {
				got, ok := s.Tokens.ByID(tk.Secret)
				if !ok || got.ID != tk.Secret || got.Name != tk.TokenName {
					t.Fatalf("listed secret %q is not the id of token %q", tk.Secret, tk.TokenName)
				}
			}
			if len(ts) > 0 {
				v := s.Must(http.StatusOK, "POST", "/edge/validate", "", map[string]any{"tokens": mxSecrets(ts)}).JSON(t)
				if n := len(v["tokens"].([]any)); n != 0 {
					t.Fatalf("/edge/validate accepted %d listed `secret` values", n)
				}
				for _, sec := range mxSecrets(ts) {
					s.Must(http.StatusUnauthorized, "GET", "/api/admin/api-tokens", sec, nil)
				}
			}
			if after := s.LastSeq(); after != before {
				t.Fatalf("listing appended to the stream: %d → %d", before, after)
			}
		})
	}
}

func TestPermissionsAtUseTime(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	feReader := s.CreateRole("frontend-reader", "root-custom", "READ_FRONTEND_API_TOKEN")
	s.CreateToken("frontend", "development")

	t.Run("editor_pat_loses_access_when_demoted_to_viewer", func(t *testing.T) {
		s := s.For(t)
		u := s.CreateUser("demoted-editor", "Editor")
		s.Must(http.StatusOK, "GET", "/api/admin/api-tokens", u.Secret, nil)
		s.Must(http.StatusOK, "PUT", fmt.Sprintf("/api/admin/user-admin/%d", u.IntID), servicetest.AdminSecret, map[string]any{"rootRole": "Viewer"})
		r := s.Must(http.StatusForbidden, "GET", "/api/admin/api-tokens", u.Secret, nil)
		servicetest.CheckErrorShape(t, r)
		// and regains it when promoted again: the PAT carries no permissions
		s.Must(http.StatusOK, "PUT", fmt.Sprintf("/api/admin/user-admin/%d", u.IntID), servicetest.AdminSecret, map[string]any{"rootRole": "Editor"})
		s.Must(http.StatusOK, "GET", "/api/admin/api-tokens", u.Secret, nil)
	})

	t.Run("custom_role_edit_applies_to_existing_pats", func(t *testing.T) {
		s := s.For(t)
		u := s.CreateUser("fe-reader", feReader)
		s.Must(http.StatusOK, "GET", "/api/admin/api-tokens", u.Secret, nil)
		s.Must(http.StatusOK, "PUT", fmt.Sprintf("/api/admin/roles/%d", feReader), servicetest.AdminSecret,
			map[string]any{"permissions": []map[string]string{{"name": "READ_CLIENT_API_TOKEN"}}})
		ts, _ := mxList(t, s, "/api/admin/api-tokens", u.Secret)
		for _, tk := range ts {
			if tk.Type == "frontend" {
				t.Fatalf("role lost READ_FRONTEND_API_TOKEN but the PAT still lists frontend tokens")
			}
		}
		s.Must(http.StatusOK, "DELETE", fmt.Sprintf("/api/admin/roles/%d", feReader), servicetest.AdminSecret, nil)
		servicetest.CheckErrorShape(t, s.Must(http.StatusForbidden, "GET", "/api/admin/api-tokens", u.Secret, nil))
	})

	t.Run("deleting_a_user_revokes_their_pat", func(t *testing.T) {
		s := s.For(t)
		u := s.CreateUser("leaver", "Editor")
		s.Must(http.StatusOK, "GET", "/api/admin/user/tokens", u.Secret, nil)
		s.Must(http.StatusOK, "DELETE", fmt.Sprintf("/api/admin/user-admin/%d", u.IntID), servicetest.AdminSecret, nil)
		for _, path := range []string{"/api/admin/user/tokens", "/api/admin/api-tokens", "/api/admin/user"} {
			servicetest.CheckErrorShape(t, s.Must(http.StatusUnauthorized, "GET", path, u.Secret, nil))
		}
		tok, ok := s.Tokens.Lookup(u.Secret)
		if !ok || !tok.Revoked {
			t.Fatalf("the deleted user's PAT is not revoked in the ledger")
		}
	})

	t.Run("deleting_a_service_account_revokes_its_token", func(t *testing.T) {
		s := s.For(t)
		sa := s.CreateServiceAccount("ci-leaver", "Editor")
		s.Must(http.StatusOK, "GET", "/api/admin/api-tokens", sa.Secret, nil)
		s.Must(http.StatusOK, "DELETE", fmt.Sprintf("/api/admin/service-account/%d", sa.IntID), servicetest.AdminSecret, nil)
		servicetest.CheckErrorShape(t, s.Must(http.StatusUnauthorized, "GET", "/api/admin/api-tokens", sa.Secret, nil))
	})
}

// mxRaw is a request that is safe from any goroutine: it returns errors
// instead of failing the test.
func mxRaw(method, url, cred string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cred != "" {
		req.Header.Set("Authorization", cred)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// mxFutureExpiry marshals as {"expiresAt": t} with a t one second later
// each time.
type mxFutureExpiry struct{ n atomic.Int64 }

func (f *mxFutureExpiry) MarshalJSON() ([]byte, error) {
	t := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(f.n.Add(1)) * time.Second)
	return json.Marshal(map[string]any{"expiresAt": t.Format(time.RFC3339)})
}
