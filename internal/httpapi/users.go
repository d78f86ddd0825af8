package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/authz"
	"github.com/tokenledger/tokenledger/projections/directory"
)

// Users, service accounts, roles, projects and environments: ADMIN manages
// them (Unleash's user-admin, service-account, roles, projects and
// environments routes). Integer ids are Unleash's: users and service
// accounts use the stream sequence of their creation event; predefined
// roles are 1–5 as in Unleash, custom roles customRoleBase + the sequence of
// their creation.

func pathUint(r *http.Request, name string) (uint64, error) {
	n, err := strconv.ParseUint(r.PathValue(name), 10, 64)
	if err != nil || n == 0 {
		return 0, badRequest(name, name+" must be a positive integer")
	}
	return n, nil
}

type userJSON struct {
	ID          uint64    `json:"id"`
	Username    *string   `json:"username"`
	Email       string    `json:"email,omitempty"`
	Name        *string   `json:"name"`
	RootRole    uint64    `json:"rootRole"`
	CreatedAt   time.Time `json:"createdAt"`
	AccountType string    `json:"accountType"`
}

func (s *Server) toUser(u directory.User) userJSON {
	return userJSON{ID: u.IntID, Username: nonEmpty(u.Username), Email: u.Email, Name: nonEmpty(u.Name),
		RootRole: s.roleIntID(u.RootRole), CreatedAt: u.CreatedAt.UTC(), AccountType: "User"}
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (s *Server) userFromPath(r *http.Request) (directory.User, error) {
	n, err := pathUint(r, "id")
	if err != nil {
		return directory.User{}, err
	}
	u, ok := s.dir.UserByIntID(n)
	if !ok || (u.Deleted && !retry(r)) {
		return directory.User{}, notFound(fmt.Sprintf("Could not find user with id %d", n))
	}
	return u, nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	out := struct {
		Users     []userJSON `json:"users"`
		RootRoles []rootRole `json:"rootRoles"`
	}{Users: []userJSON{}, RootRoles: s.rootRoles()}
	for _, u := range s.dir.Users() {
		out.Users = append(out.Users, s.toUser(u))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	u, err := s.userFromPath(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.toUser(u))
	return nil
}

type userBody struct {
	Username string          `json:"username"`
	Email    string          `json:"email"`
	Name     string          `json:"name"`
	RootRole json.RawMessage `json:"rootRole"`
	SendMail *bool           `json:"sendEmail"` // accepted for Unleash clients; no mail is sent
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var b userBody
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	role, err := s.roleRef(r, b.RootRole)
	if err != nil {
		return err
	}
	if err := s.noSecrets(w, r, "username", b.Username, "email", b.Email, "name", b.Name); err != nil {
		return err
	}
	m, uid := s.createMeta(r, p)
	id, res, err := s.cmd.CreateUser(r.Context(), m, commands.CreateUser{UserID: uid, Username: b.Username,
		Email: b.Email, Name: b.Name, RootRole: role})
	if err != nil {
		return err
	}
	d, err := s.afterWriteDir(w, r, res, events.KindUser, id)
	if err != nil {
		return err
	}
	u, ok := d.User(id)
	if !ok {
		return fmt.Errorf("user %s not in the directory after its write", id)
	}
	writeJSON(w, createdStatus(res), s.toUser(u))
	return nil
}

// createdStatus is 201, or 200 for a create replayed under its
// Idempotency-Key.
func createdStatus(res commands.Result) int {
	if res.Replayed {
		return http.StatusOK
	}
	return http.StatusCreated
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	u, err := s.userFromPath(r)
	if err != nil {
		return err
	}
	var b updateUserBody
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	if err := b.onlyRoleChanges(u); err != nil {
		return err
	}
	role, err := s.roleRef(r, b.RootRole)
	if err != nil {
		return err
	}
	res, err := s.cmd.ChangeUserRole(r.Context(), s.meta(r, p), commands.ChangeUserRole{UserID: u.ID, RootRole: role})
	if err != nil {
		return err
	}
	d, err := s.afterWriteDir(w, r, res, events.KindUser, u.ID)
	if err != nil {
		return err
	}
	u, _ = d.User(u.ID)
	writeJSON(w, http.StatusOK, s.toUser(u))
	return nil
}

// updateUserBody is what PUT /api/admin/user-admin/{id} takes. Unleash's
// admin UI sends its whole user form (id, name, email, sendEmail and
// rootRole); the ledger changes only the root role, so the other members
// are accepted when they repeat what the user already has.
type updateUserBody struct {
	RootRole json.RawMessage `json:"rootRole"`
	ID       *uint64         `json:"id"`
	Name     *string         `json:"name"`
	Email    *string         `json:"email"`
	SendMail *bool           `json:"sendEmail"` // accepted for Unleash clients; no mail is sent
}

// onlyRoleChanges refuses a body that would change anything of u but its
// root role (the message names the member, never its value).
func (b updateUserBody) onlyRoleChanges(u directory.User) error {
	if b.ID != nil && *b.ID != u.IntID {
		return badRequest("id", `"id" must be the id in the path, or left out`)
	}
	if b.Name != nil && *b.Name != u.Name {
		return badRequest("name", "a user's name cannot be changed through the ledger; send the current name or leave it out")
	}
	if b.Email != nil && !strings.EqualFold(*b.Email, u.Email) {
		return badRequest("email", "a user's e-mail address cannot be changed through the ledger; send the current one or leave it out")
	}
	return nil
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	u, err := s.userFromPath(r)
	if err != nil {
		return err
	}
	// The command finds the tokens the deletion cascades to.
	res, err := s.cmd.DeleteUser(r.Context(), s.meta(r, p), u.ID, nil)
	return s.written(w, r, res, err)
}

// GET /api/admin/user: the caller (Unleash's meSchema).
func (s *Server) getMe(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	type perm struct {
		Permission string `json:"permission"`
		Project    string `json:"project,omitempty"`
	}
	out := struct {
		User        map[string]any  `json:"user"`
		Permissions []perm          `json:"permissions"`
		Feedback    []any           `json:"feedback"`
		Splash      map[string]bool `json:"splash"`
	}{Permissions: []perm{}, Feedback: []any{}, Splash: map[string]bool{}}
	for _, name := range p.Permissions() {
		out.Permissions = append(out.Permissions, perm{Permission: name})
	}
	switch p.Kind {
	case events.ActorUser:
		u, _ := s.dir.User(p.ID)
		uj := s.toUser(u)
		out.User = map[string]any{"id": uj.ID, "username": uj.Username, "email": uj.Email, "name": uj.Name,
			"rootRole": uj.RootRole, "createdAt": uj.CreatedAt, "accountType": "User"}
	case events.ActorServiceAccount:
		sa, _ := s.dir.ServiceAccount(p.ID)
		out.User = map[string]any{"id": sa.IntID, "username": sa.Username, "name": sa.Name,
			"rootRole": s.roleIntID(sa.RootRole), "createdAt": sa.CreatedAt.UTC(), "accountType": "Service Account"}
	default: // admin token: Unleash's internal admin-token user id
		out.User = map[string]any{"id": -42, "username": p.Name, "name": p.Name}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
