package servicetest

import (
	"net/http"
	"strconv"
	"time"
)

// CreateToken creates a client, backend or frontend token in env (and
// projects, if any) as the admin token and returns its secret and id.
func (s *Service) CreateToken(typ, env string, projects ...string) (secret, id string) {
	s.t.Helper()
	body := map[string]any{"tokenName": "t-" + typ, "type": typ, "environment": env}
	if len(projects) > 0 {
		body["projects"] = projects
	}
	r := s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", AdminSecret, body)
	secret = r.JSON(s.t)["secret"].(string)
	tok, ok := s.Tokens.Lookup(secret)
	if !ok {
		s.t.Fatalf("servicetest: the created token is not in the token set")
	}
	return secret, tok.ID
}

// Principal is a user or service account and the secret of its first
// token.
type Principal struct {
	IntID  int
	Secret string
}

// CreateUser creates a user with a root role (a name or an integer id)
// and issues their first PAT on their behalf, as an Admin may.
func (s *Service) CreateUser(name string, rootRole any) Principal {
	s.t.Helper()
	r := s.Must(http.StatusCreated, "POST", "/api/admin/user-admin", AdminSecret,
		map[string]any{"username": name, "email": name + "@example.com", "rootRole": rootRole})
	id := int(r.JSON(s.t)["id"].(float64))
	pat := s.Must(http.StatusCreated, "POST", "/api/admin/user-admin/"+strconv.Itoa(id)+"/tokens", AdminSecret,
		map[string]any{"description": "first", "expiresAt": FromNow(24 * time.Hour)})
	return Principal{IntID: id, Secret: pat.JSON(s.t)["secret"].(string)}
}

// CreateServiceAccount creates a service account with a root role and a
// token.
func (s *Service) CreateServiceAccount(name string, rootRole any) Principal {
	s.t.Helper()
	r := s.Must(http.StatusCreated, "POST", "/api/admin/service-account", AdminSecret,
		map[string]any{"name": name, "username": name, "rootRole": rootRole})
	id := int(r.JSON(s.t)["id"].(float64))
	tok := s.Must(http.StatusCreated, "POST", "/api/admin/service-account/"+strconv.Itoa(id)+"/token", AdminSecret,
		map[string]any{"description": "ci", "expiresAt": FromNow(24 * time.Hour)})
	return Principal{IntID: id, Secret: tok.JSON(s.t)["secret"].(string)}
}

// CreateRole creates a custom role of type typ ("root" or "project") with
// the named permissions and returns its integer id.
func (s *Service) CreateRole(name, typ string, perms ...string) int {
	s.t.Helper()
	ps := []map[string]string{}
	for _, p := range perms {
		ps = append(ps, map[string]string{"name": p})
	}
	r := s.Must(http.StatusCreated, "POST", "/api/admin/roles", AdminSecret,
		map[string]any{"name": name, "type": typ, "permissions": ps})
	return int(r.JSON(s.t)["id"].(float64))
}
