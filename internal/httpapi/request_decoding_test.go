package httpapi_test

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// decodingFixture is a service with one of everything a body-taking route
// can address.
type decodingFixture struct {
	*servicetest.Service
	userID, userPATID int
	userSecret        string
	freshUserID       int
	saID, saTokenID   int
	roleID            int
	tokenID           string
}

func newDecodingFixture(t *testing.T) *decodingFixture {
	s := servicetest.Start(t, "", nil)
	f := &decodingFixture{Service: s}
	u := s.CreateUser("dana", "Viewer")
	f.userID, f.userSecret = u.IntID, u.Secret
	fresh := s.Must(http.StatusCreated, "POST", "/api/admin/user-admin", servicetest.AdminSecret,
		map[string]any{"username": "fresh", "email": "fresh@example.com", "rootRole": "Viewer"})
	f.freshUserID = int(fresh.JSON(t)["id"].(float64))
	f.roleID = s.CreateRole("custom", "root-custom")
	f.userPATID = firstID(t, s.Must(http.StatusOK, "GET", fmt.Sprintf("/api/admin/user-admin/%d/tokens", u.IntID), servicetest.AdminSecret, nil))
	sa := s.CreateServiceAccount("robot", "Editor")
	f.saID = sa.IntID
	f.saTokenID = firstID(t, s.Must(http.StatusOK, "GET", fmt.Sprintf("/api/admin/service-account/%d/token", sa.IntID), servicetest.AdminSecret, nil))
	_, f.tokenID = s.CreateToken("client", "development", "default")
	return f
}

// firstID is the id of the first PAT in a {"pats": [...]} answer.
func firstID(t *testing.T, r servicetest.Response) int {
	t.Helper()
	pats, _ := r.JSON(t)["pats"].([]any)
	if len(pats) == 0 {
		t.Fatalf("no pats in %s", r.Body)
	}
	return int(pats[0].(map[string]any)["id"].(float64))
}

// bodyRoute is a route that decodes a body: the member a test plays with,
// a JSON value for it, and the rest of a valid body.
type bodyRoute struct {
	name, method, path string
	cred               string // "" for the admin token
	member, value      string
	rest               string
}

func (f *decodingFixture) bodyRoutes() []bodyRoute {
	exp := `"` + servicetest.FromNow(48*time.Hour) + `"`
	return []bodyRoute{
		{"create_token", "POST", "/api/admin/api-tokens", "", "projects", `["default"]`, `"tokenName":"t","type":"client","environment":"development"`},
		{"create_project_token", "POST", "/api/admin/projects/default/api-tokens", "", "environment", `"development"`, `"tokenName":"t","type":"client"`},
		{"update_token_expiry", "PUT", "/api/admin/api-tokens/" + f.tokenID, "", "expiresAt", exp, ``},
		{"create_own_pat", "POST", "/api/admin/user/tokens", f.userSecret, "description", `"d"`, `"expiresAt":` + exp},
		{"create_pat_on_behalf", "POST", fmt.Sprintf("/api/admin/user-admin/%d/tokens", f.freshUserID), "", "description", `"d"`, `"expiresAt":` + exp},
		{"update_user_pat", "PUT", fmt.Sprintf("/api/admin/user-admin/%d/tokens/%d", f.userID, f.userPATID), "", "expiresAt", exp, ``},
		{"create_user", "POST", "/api/admin/user-admin", "", "rootRole", `"Viewer"`, `"username":"erin","email":"erin@example.com"`},
		{"update_user", "PUT", fmt.Sprintf("/api/admin/user-admin/%d", f.userID), "", "rootRole", `"Editor"`, ``},
		{"create_service_account", "POST", "/api/admin/service-account", "", "rootRole", `"Viewer"`, `"name":"bot","username":"bot"`},
		{"update_service_account", "PUT", fmt.Sprintf("/api/admin/service-account/%d", f.saID), "", "name", `"renamed"`, ``},
		{"create_service_account_token", "POST", fmt.Sprintf("/api/admin/service-account/%d/token", f.saID), "", "description", `"d2"`, `"expiresAt":` + exp},
		{"update_service_account_token", "PUT", fmt.Sprintf("/api/admin/service-account/%d/token/%d", f.saID, f.saTokenID), "", "expiresAt", exp, ``},
		{"create_role", "POST", "/api/admin/roles", "", "type", `"root-custom"`, `"name":"r","permissions":[]`},
		{"update_role", "PUT", fmt.Sprintf("/api/admin/roles/%d", f.roleID), "", "name", `"x"`, ``},
		{"create_project", "POST", "/api/admin/projects", "", "id", `"p9"`, `"name":"P9"`},
		{"update_project", "PUT", "/api/admin/projects/default", "", "name", `"D"`, ``},
		{"create_environment", "POST", "/api/admin/environments", "", "name", `"qa"`, `"type":"test"`},
		{"update_environment", "PUT", "/api/admin/environments/update/development", "", "type", `"test"`, ``},
		{"edge_validate", "POST", "/edge/validate", "", "tokens", `["nope"]`, ``},
	}
}

func (b bodyRoute) credential() string {
	if b.cred == "" {
		return servicetest.AdminSecret
	}
	return b.cred
}

func (b bodyRoute) with(members string) string {
	if b.rest == "" {
		return "{" + members + "}"
	}
	return "{" + members + "," + b.rest + "}"
}

// Go's encoding/json matched "PROJECTS" to projects, kept the last of two
// "projects" and took null as absent: each made an all-projects token. Every
// route that decodes a body refuses all three, and appends nothing.
func TestDuplicateCaseVariantAndNullMembersAreRefusedOnEveryBodyRoute(t *testing.T) {
	f := newDecodingFixture(t)
	for _, rt := range f.bodyRoutes() {
		m := `"` + rt.member + `"`
		variants := map[string]string{
			"duplicate":    rt.with(m + ":" + rt.value + "," + m + ":" + rt.value),
			"case_variant": rt.with(m + ":" + rt.value + `,"` + strings.ToUpper(rt.member) + `":` + rt.value),
			"case_only":    rt.with(`"` + strings.ToUpper(rt.member[:1]) + rt.member[1:] + `":` + rt.value),
			"null_member":  rt.with(m + ":null"),
			"null_inside":  rt.with(m + ":" + rt.value + `,"` + rt.member + `X":[null]`),
		}
		if rt.name == "update_service_account_token" {
			delete(variants, "null_member") // null there means "never expires"
		}
		for vname, body := range variants {
			t.Run(rt.name+"/"+vname, func(t *testing.T) {
				f.For(t).MustRefuse(http.StatusBadRequest, rt.method, rt.path, rt.credential(), body)
			})
		}
		// The valid body itself is accepted (the table is not blind).
		t.Run(rt.name+"/valid", func(t *testing.T) {
			r := f.Do(rt.method, rt.path, rt.credential(), rt.with(m+":"+rt.value))
			if r.Status >= 300 {
				t.Fatalf("valid body refused: %d %s", r.Status, r.Body)
			}
		})
	}
}

// 9999-12-31T23:59:59-23:59 is year 10000 in UTC, which no time field can
// store: every route that takes a time answers 400 naming the field, never
// 500 with an ERROR logged.
func TestUnstorableTimesAreRefusedOnEveryRouteThatTakesATime(t *testing.T) {
	f := newDecodingFixture(t)
	for _, when := range []string{"9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+00:01"} {
		for _, rt := range f.bodyRoutes() {
			if !strings.Contains(rt.member+rt.rest, "expiresAt") {
				continue
			}
			var body string
			if rt.member == "expiresAt" {
				body = rt.with(`"expiresAt":"` + when + `"`)
			} else {
				body = `{"` + rt.member + `":` + rt.value + `,"expiresAt":"` + when + `"}`
			}
			t.Run(rt.name+"/"+when, func(t *testing.T) {
				r := f.For(t).MustRefuse(http.StatusBadRequest, rt.method, rt.path, rt.credential(), body)
				if !strings.Contains(string(r.Body), `"path":"expiresAt"`) {
					t.Fatalf("error does not name expiresAt: %s", r.Body)
				}
			})
		}
		for _, q := range []string{"/api/ledger/events?since=", "/api/ledger/events?until=", "/api/ledger/state?at="} {
			t.Run(q+when, func(t *testing.T) {
				r := f.Do("GET", q+strings.ReplaceAll(when, "+", "%2B"), servicetest.AdminSecret, nil)
				if r.Status != http.StatusBadRequest {
					t.Fatalf("status %d, want 400: %s", r.Status, r.Body)
				}
				servicetest.CheckErrorShape(t, r)
			})
		}
	}
	if logs := f.Logs(); strings.Contains(logs, `"level":"ERROR"`) {
		t.Fatalf("a bad time logged an ERROR:\n%s", logs)
	}
}

// A secret pasted as a member name was echoed in "unknown field"; no
// rejection repeats a member name it does not know or a value.
func TestDecodingErrorsNeverRepeatTheInput(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	secret, _ := s.CreateToken("backend", "development", "default")
	for name, body := range map[string]string{
		"secret_as_member_name":      `{"` + secret + `":1}`,
		"secret_as_case_variant":     `{"tokenName":"x","type":"client","` + secret + `":["*"]}`,
		"secret_as_wrong_type":       `{"tokenName":["` + secret + `"],"type":"client"}`,
		"secret_as_bad_time":         `{"tokenName":"x","type":"client","expiresAt":"` + secret + `"}`,
		"secret_as_token_type":       `{"tokenName":"x","type":"` + secret + `"}`,
		"secret_as_environment":      `{"tokenName":"x","type":"client","environment":"` + secret + `"}`,
		"secret_as_project":          `{"tokenName":"x","type":"client","projects":["` + secret + `"]}`,
		"secret_after_the_value":     `{"tokenName":"x"}` + secret,
		"secret_as_duplicate_member": `{"` + secret + `":1,"` + secret + `":2}`,
	} {
		t.Run(name, func(t *testing.T) {
			r := s.Do("POST", "/api/admin/api-tokens", servicetest.AdminSecret, body)
			if r.Status < 400 || r.Status >= 500 {
				t.Fatalf("status %d, want 4xx: %s", r.Status, r.Body)
			}
			servicetest.CheckErrorShape(t, r)
			body := secret[strings.LastIndexAny(secret, ".:")+1:]
			if strings.Contains(string(r.Body), body) {
				t.Fatalf("the error repeats the secret: %s", r.Body)
			}
		})
	}
}

// ServeMux answered unclean paths with a 307 and an HTML body, and
// redirected a DELETE. They get the JSON error shape, never a redirect, and
// change nothing.
func TestUncleanPathsAnswerJSONAndNeverRedirect(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	_, id := s.CreateToken("client", "development", "default")
	before := s.LastSeq()
	for _, p := range []string{
		"/api/admin/../admin/api-tokens/" + id,
		"//api/admin/api-tokens/" + id,
		"/api/admin/./api-tokens/" + id,
		"/api/admin//api-tokens/" + id,
		"/api/admin/api-tokens/x/../" + id,
	} {
		for _, method := range []string{"GET", "DELETE"} {
			t.Run(method+p, func(t *testing.T) {
				r := rawRequest(t, s, method+" "+p+" HTTP/1.1\r\nHost: x\r\nAuthorization: "+servicetest.AdminSecret+"\r\nConnection: close\r\n\r\n")
				if r.StatusCode != http.StatusNotFound && r.StatusCode != http.StatusBadRequest {
					t.Fatalf("status %d, want 404 or 400", r.StatusCode)
				}
				if loc := r.Header.Get("Location"); loc != "" {
					t.Fatalf("redirected to %s", loc)
				}
				if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Fatalf("Content-Type %q", ct)
				}
			})
		}
	}
	if got := s.LastSeq(); got != before {
		t.Fatalf("unclean paths appended %d events", got-before)
	}
}

// rawRequest sends a request exactly as written (Go's client would clean
// nothing, but this also keeps "//" at the start) and reads the answer.
func rawRequest(t *testing.T, s *servicetest.Service, req string) *http.Response {
	t.Helper()
	c := s.For(t).Dial()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Body.Close() })
	return r
}

// "Authorization: x" with X-Ledger-Min-Sequence held the request 5 s and
// then answered 503: a caller is authenticated before the server waits for
// it.
func TestWrongCredentialIsRefusedBeforeWaitingForMinSequence(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	for _, cred := range []string{"x", "Bearer nope", servicetest.AdminSecret + "x"} {
		r := s.Do("GET", "/api/admin/api-tokens", cred, nil, "X-Ledger-Min-Sequence", "999999999")
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("%q: status %d, want 401: %s", cred, r.Status, r.Body)
		}
		servicetest.CheckErrorShape(t, r)
	}
	// An authenticated caller still waits, and gets 503 for a sequence the
	// ledger does not reach.
	r := s.Do("GET", "/api/admin/api-tokens", servicetest.AdminSecret, nil, "X-Ledger-Min-Sequence", "not-a-number")
	if r.Status != http.StatusBadRequest {
		t.Fatalf("malformed sequence: status %d, want 400", r.Status)
	}
}
