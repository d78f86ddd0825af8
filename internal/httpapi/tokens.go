package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/authz"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// apiToken is Unleash's apiTokenSchema (closed: no other keys). In listings
// Secret carries the token's public id, which PUT and DELETE accept; only
// the create answer carries the full secret.
type apiToken struct {
	Secret      string     `json:"secret"`
	TokenName   string     `json:"tokenName"`
	Type        string     `json:"type"`
	Environment string     `json:"environment"`
	Project     string     `json:"project"`
	Projects    []string   `json:"projects"`
	ExpiresAt   *time.Time `json:"expiresAt"`
	CreatedAt   time.Time  `json:"createdAt"`
	SeenAt      *time.Time `json:"seenAt"`
	Alias       *string    `json:"alias"`
	Secure      bool       `json:"secure"`
}

func toAPIToken(t tokenset.Token) apiToken {
	projects := t.Projects
	if t.AllProjects {
		projects = []string{commands.AllProjects}
	}
	if projects == nil {
		projects = []string{}
	}
	out := apiToken{Secret: t.ID, TokenName: t.Name, Type: t.Type, Environment: t.Environment,
		Project: strings.Join(projects, ","), Projects: projects, CreatedAt: t.CreatedAt.UTC(), Secure: true}
	if !t.ExpiresAt.IsZero() {
		e := t.ExpiresAt.UTC()
		out.ExpiresAt = &e
	}
	return out
}

// isAPIToken reports whether t is managed through /api/admin/api-tokens:
// client, backend, frontend and admin tokens that are not revoked.
func isAPIToken(t tokenset.Token) bool {
	return !t.Revoked && !commands.IsAccountToken(t.Type)
}

// findAPIToken resolves a management reference: the token id or the full
// secret.
func (s *Server) findAPIToken(ref string) (tokenset.Token, bool) {
	return s.findAPITokenFor(nil, ref)
}

// findAPITokenFor is findAPIToken that, for a DELETE retried under its
// Idempotency-Key (see retry), also finds a revoked token, so the command
// can replay the first attempt.
func (s *Server) findAPITokenFor(r *http.Request, ref string) (tokenset.Token, bool) {
	t, ok := s.tokens.ByID(ref)
	if !ok {
		t, ok = s.tokens.Lookup(ref)
	}
	if !ok || commands.IsAccountToken(t.Type) || (t.Revoked && (r == nil || !retry(r))) {
		return tokenset.Token{}, false
	}
	return t, true
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if err := authz.CanAny(p, authz.RoutePermissions(authz.Read)...); err != nil {
		return forbidden(err.Error())
	}
	s.writeAllAPITokens(w, p)
	return nil
}

func (s *Server) tokensByName(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if err := authz.CanAny(p, authz.RoutePermissions(authz.Read)...); err != nil {
		return forbidden(err.Error())
	}
	writeAPITokens(w, s.tokens.ByName(r.PathValue("name")), func(t tokenset.Token) bool {
		return isAPIToken(t) && authz.CanOnToken(p, authz.Read, t.Type) == nil
	})
	return nil
}

// createTokenBody is Unleash's createApiTokenSchema, strict.
type createTokenBody struct {
	TokenName   string           `json:"tokenName"`
	Type        string           `json:"type"`
	Environment *string          `json:"environment"`
	Projects    *[]string        `json:"projects"`
	ExpiresAt   *time.Time       `json:"expiresAt"`
	Project     *json.RawMessage `json:"project"`
}

// tokenType normalises Unleash's case-insensitive type; admin tokens are not
// created through the API (Unleash v7 removed it).
func tokenType(raw string) (string, error) {
	switch t := strings.ToLower(raw); t {
	case events.TokenClient, events.TokenBackend, events.TokenFrontend:
		return t, nil
	case events.TokenAdmin:
		return "", badRequest("type", "admin tokens cannot be created through the API; they come only from INIT_ADMIN_API_TOKENS. Use a personal access token or a service account instead")
	case "":
		return "", badRequest("type", `"type" is required: one of client, backend, frontend`)
	default:
		return "", badRequest("type", `"type" must be one of client, backend, frontend`)
	}
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if err := authz.CanAny(p, authz.RoutePermissions(authz.Create)...); err != nil {
		return forbidden(err.Error())
	}
	var b createTokenBody
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	if b.Project != nil {
		return badRequest("project", `"project" is not accepted (Unleash would silently make an all-projects token); send "projects": ["<project id>"] instead`)
	}
	typ, err := tokenType(b.Type)
	if err != nil {
		return err
	}
	if err := authz.CanOnToken(p, authz.Create, typ); err != nil {
		return err
	}
	env := "development"
	if b.Environment != nil {
		env = *b.Environment
	}
	projects := []string{commands.AllProjects}
	if b.Projects != nil {
		projects = *b.Projects
	}
	return s.issueAPIToken(w, r, p, commands.CreateToken{Type: typ, Name: b.TokenName, Environment: env,
		Projects: projects, ExpiresAt: b.ExpiresAt, Path: events.PathAdminAPI})
}

// issueAPIToken creates the token (the command refuses a scope that is not
// live) and answers 201 with the full secret, the only time it is shown.
func (s *Server) issueAPIToken(w http.ResponseWriter, r *http.Request, p *authz.Principal, c commands.CreateToken) error {
	if err := s.noSecretIn(w, r, "tokenName", c.Name); err != nil {
		return err
	}
	m, id := s.createMeta(r, p)
	c.TokenID = id
	created, err := s.cmd.CreateToken(r.Context(), m, c)
	if err != nil {
		return err
	}
	s.afterWrite(w, r, created.Result)
	out := toAPIToken(s.createdToken(created))
	status := http.StatusCreated
	if created.Replayed {
		status = http.StatusOK // the secret was shown by the first answer
	} else {
		out.Secret = created.Secret.Reveal()
	}
	// The token's own record: Unleash's closed schema has no id, so the
	// header is how a client finds the id the other routes take.
	w.Header().Set("Location", "/api/ledger/tokens/"+created.TokenID)
	writeJSON(w, status, out)
	return nil
}

type updateExpiryBody struct {
	ExpiresAt *time.Time `json:"expiresAt"`
}

func (s *Server) updateTokenExpiry(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if err := authz.CanAny(p, authz.RoutePermissions(authz.Update)...); err != nil {
		return forbidden(err.Error())
	}
	var b updateExpiryBody
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	if b.ExpiresAt == nil {
		return badRequest("expiresAt", `"expiresAt" is required (an ISO 8601 date-time)`)
	}
	t, ok := s.findAPIToken(r.PathValue("token"))
	if !ok {
		w.WriteHeader(http.StatusOK) // Unleash: unknown token is a no-op
		return nil
	}
	if err := authz.CanOnToken(p, authz.Update, t.Type); err != nil {
		return err
	}
	res, err := s.cmd.ChangeExpiry(r.Context(), s.meta(r, p), commands.ChangeExpiry{TokenID: t.ID, ExpiresAt: b.ExpiresAt})
	return s.written(w, r, res, err)
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if err := authz.CanAny(p, authz.RoutePermissions(authz.Delete)...); err != nil {
		return forbidden(err.Error())
	}
	t, ok := s.findAPITokenFor(r, r.PathValue("token"))
	if !ok {
		w.WriteHeader(http.StatusOK) // Unleash: unknown token is a no-op
		return nil
	}
	if err := authz.CanOnToken(p, authz.Delete, t.Type); err != nil {
		return err
	}
	return s.revoke(w, r, p, t.ID)
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request, p *authz.Principal, id string) error {
	res, err := s.cmd.RevokeToken(r.Context(), s.meta(r, p), commands.RevokeToken{TokenID: id, Reason: events.ReasonDeleted})
	if errors.Is(err, commands.ErrGone) {
		// Revoked by a concurrent request: the caller's wish holds, and the
		// answer is the one a later delete would get.
		w.WriteHeader(http.StatusOK)
		return nil
	}
	return s.written(w, r, res, err)
}

// project-scoped routes

func (s *Server) projectFor(r *http.Request, p *authz.Principal, perm string) (string, error) {
	id := r.PathValue("projectId")
	if err := authz.CanInProject(p, id, perm); err != nil {
		return "", err
	}
	if pr, ok := s.dir.Project(id); !ok || pr.Deleted {
		return "", notFound("Could not find the project")
	}
	return id, nil
}

func (s *Server) listProjectTokens(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	project, err := s.projectFor(r, p, authz.ReadProjectToken)
	if err != nil {
		return err
	}
	writeAPITokens(w, s.tokens.ByProject(project), func(t tokenset.Token) bool {
		return isAPIToken(t) && t.Type != events.TokenAdmin
	})
	return nil
}

// createProjectTokenBody is Unleash's createProjectApiTokenSchema, strict.
// Projects is accepted because Unleash's admin UI always sends it (its
// project-token form and its "Connect SDK" flow send the path's project);
// it must name exactly the path's project.
type createProjectTokenBody struct {
	TokenName   string           `json:"tokenName"`
	Type        string           `json:"type"`
	Environment *string          `json:"environment"`
	ExpiresAt   *time.Time       `json:"expiresAt"`
	Projects    *[]string        `json:"projects"`
	Project     *json.RawMessage `json:"project"`
}

// pathProjectOnly reports whether a project token's body names no scope
// but the path's project: "projects" left out, or exactly [project].
// Unleash ignores the member; the ledger accepts only what it would do
// anyway, so a body that asks for another scope is refused, not narrowed.
func pathProjectOnly(b createProjectTokenBody, project string) error {
	if b.Project != nil {
		return badRequest("project", `a project token is always scoped to the project in the path; leave out "project"`)
	}
	if b.Projects != nil && !slices.Equal(*b.Projects, []string{project}) {
		return badRequest("projects", `a project token is always scoped to the project in the path; "projects" may only be a list of that one project, or left out`)
	}
	return nil
}

func (s *Server) createProjectToken(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	project, err := s.projectFor(r, p, authz.CreateProjectToken)
	if err != nil {
		return err
	}
	var b createProjectTokenBody
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	if err := pathProjectOnly(b, project); err != nil {
		return err
	}
	typ, err := tokenType(b.Type)
	if err != nil {
		return err
	}
	env := "development"
	if b.Environment != nil {
		env = *b.Environment
	}
	return s.issueAPIToken(w, r, p, commands.CreateToken{Type: typ, Name: b.TokenName, Environment: env,
		Projects: []string{project}, ExpiresAt: b.ExpiresAt, Path: events.PathProjectAPI})
}

func (s *Server) deleteProjectToken(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	project, err := s.projectFor(r, p, authz.DeleteProjectToken)
	if err != nil {
		return err
	}
	t, ok := s.findAPITokenFor(r, r.PathValue("token"))
	if !ok || t.AllProjects || !slices.Contains(t.Projects, project) || t.Type == events.TokenAdmin {
		return notFound("Could not find the token in this project")
	}
	if len(t.Projects) > 1 {
		return badRequest("token", "the token is scoped to more projects than this one; delete it through /api/admin/api-tokens")
	}
	return s.revoke(w, r, p, t.ID)
}

// createdToken is the token a create made: from the token set, or, if the
// projections lag behind the write (afterWrite gave up waiting), from the
// command's own event, so the one answer that shows the secret is never
// lost to a slow read model.
func (s *Server) createdToken(c commands.Created) tokenset.Token {
	if t, ok := s.tokens.ByID(c.TokenID); ok {
		return t
	}
	e := c.Token
	t := tokenset.Token{ID: c.TokenID, Type: e.TokenType, Name: e.Name, Owner: e.Owner, Environment: e.Environment,
		Projects: e.Projects, AllProjects: e.AllProjects, CreatedAt: c.At, CreatedSeq: c.CreatedSeq, Path: e.Path,
		Hint: e.Hint, OnBehalfOf: e.OnBehalfOf, Version: c.CreatedSeq}
	if e.ExpiresAt != nil {
		t.ExpiresAt = *e.ExpiresAt
	}
	return t
}
