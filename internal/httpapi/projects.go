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
	d, err := s.afterWriteDir(w, r, res, events.KindProject, body.ID)
	if err != nil {
		return err
	}
	pr, _ := d.Project(body.ID)
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
	d, err := s.afterWriteDir(w, r, res, events.KindProject, pr.ID)
	if err != nil {
		return err
	}
	pr, _ = d.Project(pr.ID)
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
