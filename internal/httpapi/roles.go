package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/authz"
	"github.com/tokenledger/tokenledger/projections/directory"
)

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
// take. Unknown references pass through for the command to reject. A
// replay (markReplay) may name a custom role deleted since.
func (s *Server) roleRef(r *http.Request, raw json.RawMessage) (string, error) {
	replay := replaying(r)
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
			if role, ok := s.dir.RoleByIntID(n - customRoleBase); ok && (!role.Deleted || replay) {
				return role.ID, nil
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
	if role, ok := s.dir.RoleByName(name); ok && !role.Deleted {
		return role.ID, nil
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

type permissionJSON struct {
	ID          *int   `json:"id,omitempty"`
	Name        string `json:"name"`
	Environment string `json:"environment,omitempty"`
}

type roleJSON struct {
	ID          uint64           `json:"id"`
	Name        string           `json:"name"`
	Type        string           `json:"type"` // Unleash's: root, root-custom, project, custom
	Description string           `json:"description"`
	Permissions []permissionJSON `json:"permissions"`
}

func perms(names []string) []permissionJSON {
	out := make([]permissionJSON, 0, len(names))
	for _, n := range names {
		out = append(out, permissionJSON{Name: n})
	}
	return out
}

func (s *Server) toRole(r directory.Role) roleJSON {
	typ := "root-custom"
	if r.Type == events.RoleTypeProject {
		typ = "custom"
	}
	return roleJSON{ID: customRoleBase + r.IntID, Name: r.Name, Type: typ, Description: r.Description, Permissions: perms(r.Permissions)}
}

func predefinedRoles() []roleJSON {
	return []roleJSON{
		{ID: 1, Name: events.RoleAdmin, Type: "root", Description: "Users with the root admin role have superuser access", Permissions: perms([]string{authz.Admin})},
		{ID: 2, Name: events.RoleEditor, Type: "root", Description: "Reads every client and frontend token; manages the tokens of project default", Permissions: perms([]string{authz.ReadClientToken, authz.ReadFrontendToken})},
		{ID: 3, Name: events.RoleViewer, Type: "root", Description: "No token permissions", Permissions: []permissionJSON{}},
		{ID: 4, Name: events.RoleOwner, Type: "project", Description: "Manages the project's tokens", Permissions: perms(commands.ProjectTokenPermissions)},
		{ID: 5, Name: events.RoleMember, Type: "project", Description: "Manages the project's tokens", Permissions: perms(commands.ProjectTokenPermissions)},
	}
}

func (s *Server) roleFromPath(r *http.Request) (directory.Role, error) {
	n, err := pathUint(r, "id")
	if err != nil {
		return directory.Role{}, err
	}
	if n <= customRoleBase {
		if n <= 5 {
			return directory.Role{}, newError(http.StatusForbidden, "InvalidOperationError", "Predefined roles cannot be changed")
		}
		return directory.Role{}, notFound(fmt.Sprintf("Could not find role with id %d", n))
	}
	role, ok := s.dir.RoleByIntID(n - customRoleBase)
	if !ok || (role.Deleted && !retry(r)) {
		return directory.Role{}, notFound(fmt.Sprintf("Could not find role with id %d", n))
	}
	return role, nil
}

func (s *Server) listRoles(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	out := struct {
		Roles []roleJSON `json:"roles"`
	}{Roles: predefinedRoles()}
	for _, role := range s.dir.Roles() {
		out.Roles = append(out.Roles, s.toRole(role))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getRole(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	n, err := pathUint(r, "id")
	if err != nil {
		return err
	}
	for _, pr := range predefinedRoles() {
		if pr.ID == n {
			writeJSON(w, http.StatusOK, pr)
			return nil
		}
	}
	role, err := s.roleFromPath(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.toRole(role))
	return nil
}

type roleBody struct {
	Name        string           `json:"name"`
	Type        string           `json:"type"`
	Description string           `json:"description"`
	Permissions []permissionJSON `json:"permissions"`
}

func roleType(t string) (string, error) {
	switch t {
	case "root-custom", "root":
		return events.RoleTypeRoot, nil
	case "custom", "project":
		return events.RoleTypeProject, nil
	}
	return "", badRequest("type", `"type" must be "root-custom" (a custom root role) or "custom" (a custom project role)`)
}

func permNames(ps []permissionJSON) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func (s *Server) createRole(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var b roleBody
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	typ, err := roleType(b.Type)
	if err != nil {
		return err
	}
	if err := s.noSecrets(w, r, "name", b.Name, "description", b.Description); err != nil {
		return err
	}
	m, rid := s.createMeta(r, p)
	id, res, err := s.cmd.CreateRole(r.Context(), m, commands.CreateRole{RoleID: rid, Name: b.Name, Type: typ,
		Description: b.Description, Permissions: permNames(b.Permissions)})
	if err != nil {
		return err
	}
	d, err := s.afterWriteDir(w, r, res, events.KindRole, id)
	if err != nil {
		return err
	}
	role, ok := d.Role(id)
	if !ok {
		return fmt.Errorf("role %s not in the directory after its write", id)
	}
	writeJSON(w, createdStatus(res), s.toRole(role))
	return nil
}

func (s *Server) updateRole(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	role, err := s.roleFromPath(r)
	if err != nil {
		return err
	}
	var b roleBody
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	if b.Type != "" {
		if typ, err := roleType(b.Type); err != nil || typ != role.Type {
			return badRequest("type", "a role's type cannot change")
		}
	}
	if err := s.noSecrets(w, r, "name", b.Name, "description", b.Description); err != nil {
		return err
	}
	// An omitted name keeps the role's own (the command decides on the
	// role's state, not on this read model).
	res, err := s.cmd.UpdateRole(r.Context(), s.meta(r, p), commands.UpdateRole{RoleID: role.ID, Name: b.Name,
		Description: b.Description, Permissions: permNames(b.Permissions)})
	if err != nil {
		return err
	}
	d, err := s.afterWriteDir(w, r, res, events.KindRole, role.ID)
	if err != nil {
		return err
	}
	role, _ = d.Role(role.ID)
	writeJSON(w, http.StatusOK, s.toRole(role))
	return nil
}

func (s *Server) deleteRole(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	role, err := s.roleFromPath(r)
	if err != nil {
		return err
	}
	res, err := s.cmd.DeleteRole(r.Context(), s.meta(r, p), role.ID)
	return s.written(w, r, res, err)
}
