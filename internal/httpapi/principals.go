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
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// Users, service accounts, roles, projects and environments: ADMIN manages
// them (Unleash's user-admin, service-account, roles, projects and
// environments routes). Integer ids are Unleash's: users and service
// accounts use the stream sequence of their creation event; predefined
// roles are 1–5 as in Unleash, custom roles customRoleBase + the sequence of
// their creation.

const customRoleBase = 1000

var predefinedRoleIDs = map[string]int{events.RoleAdmin: 1, events.RoleEditor: 2, events.RoleViewer: 3,
	events.RoleOwner: 4, events.RoleMember: 5}

func (s *Server) roleIntID(ref string) uint64 {
	if n, ok := predefinedRoleIDs[ref]; ok {
		return uint64(n)
	}
	if r, ok := s.dir.Role(ref); ok {
		return customRoleBase + r.IntID
	}
	return 0
}

// roleRef turns a request's role (an integer id, a predefined name, a
// custom role's name or its aggregate id) into the reference the commands
// take. Unknown references pass through for the command to reject.
func (s *Server) roleRef(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", badRequest("rootRole", "a role is required")
	}
	var n uint64
	if err := json.Unmarshal(raw, &n); err == nil {
		for name, id := range predefinedRoleIDs {
			if uint64(id) == n {
				return name, nil
			}
		}
		if n > customRoleBase {
			if r, ok := s.dir.RoleByIntID(n - customRoleBase); ok && !r.Deleted {
				return r.ID, nil
			}
		}
		return "", badRequest("rootRole", fmt.Sprintf("no role has id %d", n))
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return "", badRequest("rootRole", "a role is an integer id or a role name")
	}
	if _, ok := predefinedRoleIDs[name]; ok {
		return name, nil
	}
	if r, ok := s.dir.RoleByName(name); ok && !r.Deleted {
		return r.ID, nil
	}
	return name, nil
}

// rootRole is Unleash's roleSchema (closed: id, type, name, description,
// project), the entries of the rootRoles list that Unleash's admin UI
// builds its role dropdowns from (users and service accounts).
type rootRole struct {
	ID          uint64 `json:"id"`
	Type        string `json:"type"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// rootRoles lists the roles a user or service account may hold as root
// role, as Unleash's GET /api/admin/user-admin does: the predefined Admin,
// Editor and Viewer (type "root") and the live custom root roles (type
// "root-custom"); never project roles.
func (s *Server) rootRoles() []rootRole {
	var out []rootRole
	for _, r := range predefinedRoles() {
		if r.Type == "root" {
			out = append(out, rootRole{ID: r.ID, Type: r.Type, Name: r.Name, Description: r.Description})
		}
	}
	for _, r := range s.dir.Roles() {
		if r.Type == events.RoleTypeRoot {
			j := s.toRole(r)
			out = append(out, rootRole{ID: j.ID, Type: j.Type, Name: j.Name, Description: j.Description})
		}
	}
	return out
}

func pathUint(r *http.Request, name string) (uint64, error) {
	n, err := strconv.ParseUint(r.PathValue(name), 10, 64)
	if err != nil || n == 0 {
		return 0, badRequest(name, name+" must be a positive integer")
	}
	return n, nil
}

// users

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
	role, err := s.roleRef(b.RootRole)
	if err != nil {
		return err
	}
	m, uid := s.createMeta(r, p)
	id, res, err := s.cmd.CreateUser(r.Context(), m, commands.CreateUser{UserID: uid, Username: b.Username,
		Email: b.Email, Name: b.Name, RootRole: role})
	if err != nil {
		return err
	}
	s.afterWrite(w, r, res)
	u, ok := s.dir.User(id)
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
	role, err := s.roleRef(b.RootRole)
	if err != nil {
		return err
	}
	res, err := s.cmd.ChangeUserRole(r.Context(), s.meta(r, p), commands.ChangeUserRole{UserID: u.ID, RootRole: role})
	if err != nil {
		return err
	}
	s.afterWrite(w, r, res)
	u, _ = s.dir.User(u.ID)
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

// service accounts

type serviceAccountJSON struct {
	ID        uint64    `json:"id"`
	Name      string    `json:"name"`
	Username  string    `json:"username"`
	RootRole  uint64    `json:"rootRole"`
	CreatedAt time.Time `json:"createdAt"`
}

func (s *Server) toServiceAccount(sa directory.ServiceAccount) serviceAccountJSON {
	return serviceAccountJSON{ID: sa.IntID, Name: sa.Name, Username: sa.Username,
		RootRole: s.roleIntID(sa.RootRole), CreatedAt: sa.CreatedAt.UTC()}
}

func (s *Server) serviceAccountFromPath(r *http.Request) (directory.ServiceAccount, error) {
	n, err := pathUint(r, "id")
	if err != nil {
		return directory.ServiceAccount{}, err
	}
	sa, ok := s.dir.ServiceAccountByIntID(n)
	if !ok || (sa.Deleted && !retry(r)) {
		return directory.ServiceAccount{}, notFound(fmt.Sprintf("Could not find service account with id %d", n))
	}
	return sa, nil
}

func (s *Server) listServiceAccounts(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	out := struct {
		ServiceAccounts []serviceAccountJSON `json:"serviceAccounts"`
		RootRoles       []rootRole           `json:"rootRoles"`
	}{ServiceAccounts: []serviceAccountJSON{}, RootRoles: s.rootRoles()}
	for _, sa := range s.dir.ServiceAccounts() {
		out.ServiceAccounts = append(out.ServiceAccounts, s.toServiceAccount(sa))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type serviceAccountBody struct {
	Name     string          `json:"name"`
	Username string          `json:"username"`
	RootRole json.RawMessage `json:"rootRole"`
}

func (s *Server) createServiceAccount(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var b serviceAccountBody
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	role, err := s.roleRef(b.RootRole)
	if err != nil {
		return err
	}
	m, said := s.createMeta(r, p)
	id, res, err := s.cmd.CreateServiceAccount(r.Context(), m, commands.CreateServiceAccount{ServiceAccountID: said,
		Name: b.Name, Username: b.Username, RootRole: role})
	if err != nil {
		return err
	}
	s.afterWrite(w, r, res)
	sa, ok := s.dir.ServiceAccount(id)
	if !ok {
		return fmt.Errorf("service account %s not in the directory after its write", id)
	}
	writeJSON(w, createdStatus(res), s.toServiceAccount(sa))
	return nil
}

func (s *Server) updateServiceAccount(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	sa, err := s.serviceAccountFromPath(r)
	if err != nil {
		return err
	}
	var b struct {
		Name     *string         `json:"name"`
		RootRole json.RawMessage `json:"rootRole"`
	}
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	// Omitted fields are kept: the command decides on the service
	// account's own state, so a concurrent change is not reverted.
	var name, role string
	if b.Name != nil {
		name = *b.Name
	}
	if len(b.RootRole) > 0 {
		if role, err = s.roleRef(b.RootRole); err != nil {
			return err
		}
	}
	res, err := s.cmd.UpdateServiceAccount(r.Context(), s.meta(r, p), commands.UpdateServiceAccount{ServiceAccountID: sa.ID, Name: name, RootRole: role})
	if err != nil {
		return err
	}
	s.afterWrite(w, r, res)
	sa, _ = s.dir.ServiceAccount(sa.ID)
	writeJSON(w, http.StatusOK, s.toServiceAccount(sa))
	return nil
}

func (s *Server) deleteServiceAccount(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	sa, err := s.serviceAccountFromPath(r)
	if err != nil {
		return err
	}
	res, err := s.cmd.DeleteServiceAccount(r.Context(), s.meta(r, p), sa.ID, nil)
	return s.written(w, r, res, err)
}

func (s *Server) listServiceAccountTokens(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	sa, err := s.serviceAccountFromPath(r)
	if err != nil {
		return err
	}
	out := struct {
		Pats []pat `json:"pats"`
	}{Pats: []pat{}}
	for _, t := range s.liveTokensOf(events.Owner{Kind: events.ActorServiceAccount, ID: sa.ID}) {
		out.Pats = append(out.Pats, toPAT(t, sa.IntID))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) createServiceAccountToken(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	sa, err := s.serviceAccountFromPath(r)
	if err != nil {
		return err
	}
	var b createPATBody
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	return s.issueAccountToken(w, r, p, events.Owner{Kind: events.ActorServiceAccount, ID: sa.ID}, sa.IntID, b, false)
}

func (s *Server) deleteServiceAccountToken(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	sa, err := s.serviceAccountFromPath(r)
	if err != nil {
		return err
	}
	t, err := s.accountTokenFromPath(r, events.Owner{Kind: events.ActorServiceAccount, ID: sa.ID})
	if err != nil {
		return err
	}
	return s.revoke(w, r, p, t.ID)
}

// accountTokenFromPath is the live token {tokenId} (a creation sequence)
// of owner, or a 404 error.
func (s *Server) accountTokenFromPath(r *http.Request, owner events.Owner) (tokenset.Token, error) {
	n, err := pathUint(r, "tokenId")
	if err != nil {
		return tokenset.Token{}, err
	}
	t, ok := s.tokens.ByCreatedSeq(n)
	if !ok || (t.Revoked && !retry(r)) || t.Owner == nil || *t.Owner != owner {
		return tokenset.Token{}, notFound(fmt.Sprintf("Could not find token %d of this owner", n))
	}
	return t, nil
}

// changeAccountTokenExpiry sets the expiry of a personal or service-account
// token (Unleash has no route for it; an admin rotating credentials needs
// one). Personal tokens keep an expiry; a past one stops the token at once.
func (s *Server) changeAccountTokenExpiry(w http.ResponseWriter, r *http.Request, p *authz.Principal, owner events.Owner) error {
	t, err := s.accountTokenFromPath(r, owner)
	if err != nil {
		return err
	}
	var b updateExpiryBody
	if err := s.decode(w, r, &b, "expiresAt"); err != nil {
		return err
	}
	if b.ExpiresAt == nil && t.Type == events.TokenPersonal {
		return badRequest("expiresAt", `"expiresAt" is required for personal access tokens`)
	}
	res, err := s.cmd.ChangeExpiry(r.Context(), s.meta(r, p), commands.ChangeExpiry{TokenID: t.ID, ExpiresAt: b.ExpiresAt})
	return s.written(w, r, res, err)
}

// PUT /api/admin/service-account/{id}/token/{tokenId}: {"expiresAt": … or null}.
func (s *Server) updateServiceAccountToken(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	sa, err := s.serviceAccountFromPath(r)
	if err != nil {
		return err
	}
	return s.changeAccountTokenExpiry(w, r, p, events.Owner{Kind: events.ActorServiceAccount, ID: sa.ID})
}

// The PATs of any user, for an Admin (ledger-native; Unleash lets only the
// owner manage PATs, and an admin token has no user):
// GET /api/admin/user-admin/{id}/tokens, PUT and DELETE …/tokens/{tokenId}.
func (s *Server) listUserPATs(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	u, err := s.userFromPath(r)
	if err != nil {
		return err
	}
	out := struct {
		Pats []pat `json:"pats"`
	}{Pats: []pat{}}
	for _, t := range s.liveTokensOf(events.Owner{Kind: events.ActorUser, ID: u.ID}) {
		out.Pats = append(out.Pats, toPAT(t, u.IntID))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) updateUserPAT(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	u, err := s.userFromPath(r)
	if err != nil {
		return err
	}
	return s.changeAccountTokenExpiry(w, r, p, events.Owner{Kind: events.ActorUser, ID: u.ID})
}

func (s *Server) deleteUserPAT(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	u, err := s.userFromPath(r)
	if err != nil {
		return err
	}
	t, err := s.accountTokenFromPath(r, events.Owner{Kind: events.ActorUser, ID: u.ID})
	if err != nil {
		return err
	}
	return s.revoke(w, r, p, t.ID)
}
