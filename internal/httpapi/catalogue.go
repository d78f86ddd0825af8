package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/authz"
	"github.com/tokenledger/tokenledger/projections/directory"
)

// roles

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
	m, rid := s.createMeta(r, p)
	id, res, err := s.cmd.CreateRole(r.Context(), m, commands.CreateRole{RoleID: rid, Name: b.Name, Type: typ,
		Description: b.Description, Permissions: permNames(b.Permissions)})
	if err != nil {
		return err
	}
	s.afterWrite(w, r, res)
	role, ok := s.dir.Role(id)
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
	// An omitted name keeps the role's own (the command decides on the
	// role's state, not on this read model).
	res, err := s.cmd.UpdateRole(r.Context(), s.meta(r, p), commands.UpdateRole{RoleID: role.ID, Name: b.Name,
		Description: b.Description, Permissions: permNames(b.Permissions)})
	if err != nil {
		return err
	}
	s.afterWrite(w, r, res)
	role, _ = s.dir.Role(role.ID)
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

// projects

type projectJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
}

// projectListItem is an entry of Unleash's projectsSchema (its
// projectSchema, closed): the project with the counters Unleash's project
// list carries, which its admin UI shows on every project card. The ledger
// holds no feature flags, so every flag counter is 0 (and the health of a
// project without flags is Unleash's 100, its technical debt 0); members
// are the project's users and service accounts with a project role.
type projectListItem struct {
	ID                           string    `json:"id"`
	Name                         string    `json:"name"`
	Description                  string    `json:"description,omitempty"`
	CreatedAt                    time.Time `json:"createdAt"`
	FeatureCount                 int       `json:"featureCount"`
	StaleFeatureCount            int       `json:"staleFeatureCount"`
	PotentiallyStaleFeatureCount int       `json:"potentiallyStaleFeatureCount"`
	CleanupCount                 int       `json:"cleanupCount"`
	MemberCount                  int       `json:"memberCount"`
	Health                       int       `json:"health"`
	TechnicalDebt                int       `json:"technicalDebt"`
	Mode                         string    `json:"mode"`
	Favorite                     bool      `json:"favorite"`
}

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	out := struct {
		Version  int               `json:"version"`
		Projects []projectListItem `json:"projects"`
	}{Version: 1, Projects: []projectListItem{}}
	for _, pr := range s.dir.Projects() {
		out.Projects = append(out.Projects, projectListItem{ID: pr.ID, Name: pr.Name, Description: pr.Description,
			CreatedAt: pr.CreatedAt.UTC(), MemberCount: len(pr.Members), Health: 100, Mode: "open"})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) createProject(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var body struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := s.decode(w, r, &body); err != nil {
		return err
	}
	res, err := s.cmd.CreateProject(r.Context(), s.meta(r, p), commands.CreateProject{ProjectID: body.ID, Name: body.Name, Description: body.Description})
	if errors.Is(err, commands.ErrExists) {
		return conflict("A project with this id already exists (ids of deleted projects are not reused)")
	}
	if err != nil {
		return err
	}
	s.afterWrite(w, r, res)
	pr, _ := s.dir.Project(body.ID)
	writeJSON(w, createdStatus(res), toProjectJSON(pr))
	return nil
}

func toProjectJSON(pr directory.Project) projectJSON {
	return projectJSON{ID: pr.ID, Name: pr.Name, Description: pr.Description, CreatedAt: pr.CreatedAt.UTC()}
}

// liveProject returns the live project the path's {projectId} names, or a
// 404 error.
func (s *Server) liveProject(r *http.Request) (directory.Project, error) {
	id := r.PathValue("projectId")
	pr, ok := s.dir.Project(id)
	if !ok || pr.Deleted {
		return directory.Project{}, notFound("Could not find the project")
	}
	return pr, nil
}

// updateProject is Unleash's PUT /api/admin/projects/{projectId}: it changes
// the name or description (a field left out stays as it is; at least one
// must be sent) with one project.updated event and answers 200 with the
// project as the create route shows it. ADMIN only; 404 for an unknown or
// deleted project.
func (s *Server) updateProject(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	pr, err := s.liveProject(r)
	if err != nil {
		return err
	}
	var body struct {
		Name        *string `json:"name"`
		Description *string `json:"description"`
	}
	if err := s.decode(w, r, &body); err != nil {
		return err
	}
	res, err := s.cmd.UpdateProject(r.Context(), s.meta(r, p), commands.UpdateProject{ProjectID: pr.ID, Name: body.Name, Description: body.Description})
	if errors.Is(err, commands.ErrNotFound) {
		return notFound("Could not find the project")
	}
	if err != nil {
		return err
	}
	s.afterWrite(w, r, res)
	pr, _ = s.dir.Project(pr.ID)
	writeJSON(w, http.StatusOK, toProjectJSON(pr))
	return nil
}

// deleteProject revokes the project's single-project tokens and narrows its
// multi-project tokens in the same atomic append as project.deleted.
func (s *Server) deleteProject(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	id := r.PathValue("projectId")
	if pr, ok := s.dir.Project(id); !ok || (pr.Deleted && !retry(r)) {
		return notFound("Could not find the project")
	}
	// The command finds the tokens the deletion cascades to.
	res, err := s.cmd.DeleteProject(r.Context(), s.meta(r, p), id, nil)
	return s.written(w, r, res, err)
}

// roleByIntID resolves a project role id of the membership routes.
func (s *Server) projectRoleRef(r *http.Request) (string, error) {
	n, err := pathUint(r, "roleId")
	if err != nil {
		return "", err
	}
	switch n {
	case 4:
		return events.RoleOwner, nil
	case 5:
		return events.RoleMember, nil
	}
	if n > customRoleBase {
		if role, ok := s.dir.RoleByIntID(n - customRoleBase); ok && !role.Deleted {
			return role.ID, nil
		}
	}
	return "", badRequest("roleId", fmt.Sprintf("no project role has id %d", n))
}

func (s *Server) addProjectUser(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	n, err := pathUint(r, "userId")
	if err != nil {
		return err
	}
	u, ok := s.dir.UserByIntID(n)
	if !ok || u.Deleted {
		return notFound(fmt.Sprintf("Could not find user with id %d", n))
	}
	return s.addMember(w, r, p, events.Owner{Kind: events.ActorUser, ID: u.ID})
}

func (s *Server) addProjectServiceAccount(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	n, err := pathUint(r, "saId")
	if err != nil {
		return err
	}
	sa, ok := s.dir.ServiceAccountByIntID(n)
	if !ok || sa.Deleted {
		return notFound(fmt.Sprintf("Could not find service account with id %d", n))
	}
	return s.addMember(w, r, p, events.Owner{Kind: events.ActorServiceAccount, ID: sa.ID})
}

func (s *Server) addMember(w http.ResponseWriter, r *http.Request, p *authz.Principal, member events.Owner) error {
	role, err := s.projectRoleRef(r)
	if err != nil {
		return err
	}
	project := r.PathValue("projectId")
	if pr, ok := s.dir.Project(project); !ok || pr.Deleted {
		return notFound("Could not find the project")
	}
	res, err := s.cmd.AddProjectMember(r.Context(), s.meta(r, p), commands.AddProjectMember{ProjectID: project, Member: member, Role: role})
	return s.written(w, r, res, err)
}

func (s *Server) removeProjectUser(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	n, err := pathUint(r, "userId")
	if err != nil {
		return err
	}
	u, ok := s.dir.UserByIntID(n)
	if !ok {
		return notFound(fmt.Sprintf("Could not find user with id %d", n))
	}
	return s.removeMember(w, r, p, events.Owner{Kind: events.ActorUser, ID: u.ID})
}

func (s *Server) removeProjectServiceAccount(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	n, err := pathUint(r, "saId")
	if err != nil {
		return err
	}
	sa, ok := s.dir.ServiceAccountByIntID(n)
	if !ok {
		return notFound(fmt.Sprintf("Could not find service account with id %d", n))
	}
	return s.removeMember(w, r, p, events.Owner{Kind: events.ActorServiceAccount, ID: sa.ID})
}

// removeMember takes member's role in the path's project away; the role in
// the path must be the one the member holds.
func (s *Server) removeMember(w http.ResponseWriter, r *http.Request, p *authz.Principal, member events.Owner) error {
	role, err := s.projectRoleRef(r)
	if err != nil {
		return err
	}
	project := r.PathValue("projectId")
	// The command checks, on the project's own state, that the member holds
	// that role.
	res, err := s.cmd.RemoveProjectMember(r.Context(), s.meta(r, p), commands.RemoveProjectMember{ProjectID: project, Member: member, Role: role})
	if errors.Is(err, commands.ErrNotFound) {
		return notFound("The member does not hold that role in this project")
	}
	return s.written(w, r, res, err)
}

// environments

type environmentJSON struct {
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Enabled   bool      `json:"enabled"`
	CreatedAt time.Time `json:"createdAt"`
}

func (s *Server) listEnvironments(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	out := struct {
		Version      int               `json:"version"`
		Environments []environmentJSON `json:"environments"`
	}{Version: 1, Environments: []environmentJSON{}}
	for _, e := range s.dir.Environments() {
		out.Environments = append(out.Environments, environmentJSON{Name: e.Name, Type: e.Type, Enabled: true, CreatedAt: e.CreatedAt.UTC()})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) createEnvironment(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var b struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	res, err := s.cmd.CreateEnvironment(r.Context(), s.meta(r, p), commands.CreateEnvironment{Name: b.Name, Type: b.Type})
	if errors.Is(err, commands.ErrExists) {
		return conflict("An environment with this name already exists (names of deleted environments are not reused)")
	}
	if err != nil {
		return err
	}
	s.afterWrite(w, r, res)
	e, _ := s.dir.Environment(b.Name)
	writeJSON(w, createdStatus(res), toEnvironmentJSON(e))
	return nil
}

func toEnvironmentJSON(e directory.Environment) environmentJSON {
	return environmentJSON{Name: e.Name, Type: e.Type, Enabled: true, CreatedAt: e.CreatedAt.UTC()}
}

// liveEnvironment returns the live environment the path's {name} names, or
// a 404 error.
func (s *Server) liveEnvironment(r *http.Request) (directory.Environment, error) {
	name := r.PathValue("name")
	e, ok := s.dir.Environment(name)
	if !ok {
		return directory.Environment{}, notFound("Could not find the environment")
	}
	return e, nil
}

// updateEnvironment is Unleash's PUT /api/admin/environments/update/{name}:
// it changes the environment's type with one environment.updated event and
// answers 200 with the environment. ADMIN only; 404 for an unknown or
// deleted environment.
func (s *Server) updateEnvironment(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	e, err := s.liveEnvironment(r)
	if err != nil {
		return err
	}
	var b struct {
		Type string `json:"type"`
	}
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	res, err := s.cmd.UpdateEnvironment(r.Context(), s.meta(r, p), commands.UpdateEnvironment{Name: e.Name, Type: b.Type})
	if errors.Is(err, commands.ErrNotFound) {
		return notFound("Could not find the environment")
	}
	if err != nil {
		return err
	}
	s.afterWrite(w, r, res)
	e, _ = s.dir.Environment(e.Name)
	writeJSON(w, http.StatusOK, toEnvironmentJSON(e))
	return nil
}

// deleteEnvironment deletes an environment and revokes its live client,
// backend and frontend tokens (reason environment-deleted) in the same
// atomic append as environment.deleted; admin tokens ("*") are untouched.
// ADMIN only; 404 for an unknown or deleted environment, 403 for the last
// environment. The name is not given to a new environment afterwards.
func (s *Server) deleteEnvironment(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	e, err := s.liveEnvironment(r)
	if err != nil && retry(r) && commands.ValidID(r.PathValue("name")) {
		// Perhaps the retry of a deletion: the directory no longer lists the
		// environment, but the command recognises its own first attempt
		// (and answers not found otherwise).
		e, err = directory.Environment{Name: r.PathValue("name")}, nil
	}
	if err != nil {
		return err
	}
	// The command reads the other environments and finds the tokens the
	// deletion cascades to.
	res, err := s.cmd.DeleteEnvironment(r.Context(), s.meta(r, p), commands.DeleteEnvironment{Name: e.Name})
	return s.written(w, r, res, err)
}
