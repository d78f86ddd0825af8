package commands

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// DefaultProject is the project every ledger has; it cannot be deleted.
const DefaultProject = events.DefaultProject

// CreateProject asks for a project.
type CreateProject struct {
	ProjectID   string // 1–100 of A–Z a–z 0–9 _ -
	Name        string // defaults to ProjectID
	Description string
}

// UpdateProject changes a project's name or description (Unleash's PUT
// /api/admin/projects/{projectId}). A nil field stays as it is; at least one
// must be set.
type UpdateProject struct {
	ProjectID   string
	Name        *string // 1–255 characters
	Description *string // at most MaxDescriptionLen characters; "" removes it
}

// AddProjectMember gives a user or service account a project role. A member
// that holds another role gets the new one instead.
type AddProjectMember struct {
	ProjectID string
	Member    events.Owner
	// Role is events.RoleOwner, events.RoleMember or a custom project
	// role's id.
	Role string
}

// RemoveProjectMember takes a principal's project role away.
type RemoveProjectMember struct {
	ProjectID string
	Member    events.Owner
	// Role, when set, must be the role the member holds (the route names
	// it); otherwise the member is not found. Empty: whatever role.
	Role string
}

// DecideCreateProject validates a project and returns the project.created
// payload. A deleted project's id is not reused: tokens a read model missed
// when the project was deleted must not regain access to a new project of
// the same id.
func DecideCreateProject(s ProjectState, c CreateProject) (events.ProjectCreated, error) {
	if s.Deleted {
		return events.ProjectCreated{}, fmt.Errorf("%w: a project with that id was deleted, and deleted ids are not reused", ErrExists)
	}
	if s.Exists {
		return events.ProjectCreated{}, ErrExists
	}
	if err := checkID("id", c.ProjectID); err != nil {
		return events.ProjectCreated{}, err
	}
	name := c.Name
	if name == "" {
		name = c.ProjectID
	}
	if err := checkName("name", name); err != nil {
		return events.ProjectCreated{}, err
	}
	if err := checkDescription("description", c.Description); err != nil {
		return events.ProjectCreated{}, err
	}
	return events.ProjectCreated{Name: name, Description: c.Description}, nil
}

// DecideUpdateProject returns the project.updated payload: the project's
// whole new name and description, the fields c leaves nil carried over from
// s. It returns ErrNotFound (wrapped when deleted) for a project that is not
// live, and a ValidationError naming the field for an empty or overlong name
// or an overlong description, or (without a field) when c changes nothing.
// Setting the values the project already has is accepted and recorded: a
// PUT is audited as sent.
func DecideUpdateProject(s ProjectState, c UpdateProject) (events.ProjectUpdated, error) {
	if err := liveAggregate(events.KindProject, s.AggregateState); err != nil {
		return events.ProjectUpdated{}, err
	}
	if c.Name == nil && c.Description == nil {
		return events.ProjectUpdated{}, invalid("", "nothing to update: name or description is required")
	}
	out := events.ProjectUpdated{Name: s.Name, Description: s.Description}
	if c.Name != nil {
		if err := checkName("name", *c.Name); err != nil {
			return events.ProjectUpdated{}, err
		}
		out.Name = *c.Name
	}
	if c.Description != nil {
		if err := checkDescription("description", *c.Description); err != nil {
			return events.ProjectUpdated{}, err
		}
		out.Description = *c.Description
	}
	return out, nil
}

// DecideDeleteProject returns the project.deleted payload. The default
// project cannot be deleted: that returns an error wrapping
// [ErrInvalidOperation].
func DecideDeleteProject(s ProjectState) (events.ProjectDeleted, error) {
	if err := liveAggregate(events.KindProject, s.AggregateState); err != nil {
		return events.ProjectDeleted{}, err
	}
	if s.ID == DefaultProject {
		return events.ProjectDeleted{}, &OperationError{"You can not delete the default project!"}
	}
	return events.ProjectDeleted{}, nil
}

// DecideAddProjectMember returns the project.member-added payload.
// memberLive tells whether c.Member names a live user or service account;
// role is the folded custom role c.Role names (zero for Owner or Member).
// Adding a member with the role it already holds returns ErrExists.
func DecideAddProjectMember(s ProjectState, c AddProjectMember, memberLive bool, role RoleState) (events.ProjectMemberAdded, error) {
	if err := liveAggregate(events.KindProject, s.AggregateState); err != nil {
		return events.ProjectMemberAdded{}, err
	}
	if err := checkMember(c.Member); err != nil {
		return events.ProjectMemberAdded{}, err
	}
	if !memberLive {
		return events.ProjectMemberAdded{}, invalid("member", "unknown %s", c.Member.Kind)
	}
	if err := checkRoleRef("role", c.Role, events.RoleTypeProject, role); err != nil {
		return events.ProjectMemberAdded{}, err
	}
	if r, ok := s.Members[c.Member]; ok && r == c.Role {
		return events.ProjectMemberAdded{}, fmt.Errorf("%w: the %s already holds this role", ErrExists, c.Member.Kind)
	}
	return events.ProjectMemberAdded{Member: c.Member, Role: c.Role}, nil
}

// DecideRemoveProjectMember returns the project.member-removed payload, or
// ErrNotFound when the principal is not a member.
func DecideRemoveProjectMember(s ProjectState, c RemoveProjectMember) (events.ProjectMemberRemoved, error) {
	if err := liveAggregate(events.KindProject, s.AggregateState); err != nil {
		return events.ProjectMemberRemoved{}, err
	}
	if held, ok := s.Members[c.Member]; !ok || (c.Role != "" && held != c.Role) {
		return events.ProjectMemberRemoved{}, fmt.Errorf("%w: not a member of the project with that role", ErrNotFound)
	}
	return events.ProjectMemberRemoved{Member: c.Member}, nil
}

func checkMember(m events.Owner) error {
	if m.Kind != events.ActorUser && m.Kind != events.ActorServiceAccount {
		return invalid("member", "must be a user or a service account")
	}
	if !ValidID(m.ID) {
		return invalid("member", "is not a valid id")
	}
	return nil
}

// CreateProject creates a project. Returns ErrExists when the id is taken
// (or was used by a deleted project), a ValidationError for a bad field.
func (h *Handler) CreateProject(ctx context.Context, m Meta, c CreateProject) (Result, error) {
	return onAggregate(ctx, h, m, events.KindProject, c.ProjectID, true, FoldProject, withCommand(DecideCreateProject, c))
}

// UpdateProject changes a project's name or description with one
// project.updated event. Returns ErrNotFound for an unknown or deleted
// project, a ValidationError for a bad field or an empty command.
func (h *Handler) UpdateProject(ctx context.Context, m Meta, c UpdateProject) (Result, error) {
	return onAggregate(ctx, h, m, events.KindProject, c.ProjectID, false, FoldProject, withCommand(DecideUpdateProject, c))
}

// AddProjectMember gives a user or service account a project role.
// Returns ErrNotFound for an unknown or deleted project, a ValidationError
// for an unknown member or role.
func (h *Handler) AddProjectMember(ctx context.Context, m Meta, c AddProjectMember) (Result, error) {
	live, err := h.principalLive(ctx, c.Member)
	if err != nil {
		return Result{}, err
	}
	role, err := h.roleRef(ctx, c.Role)
	if err != nil {
		return Result{}, err
	}
	return onAggregate(ctx, h, m, events.KindProject, c.ProjectID, false, FoldProject, func(s ProjectState, _ time.Time) (events.Payload, error) {
		return DecideAddProjectMember(s, c, live, role)
	})
}

// RemoveProjectMember takes a principal's project role away. Returns
// ErrNotFound for an unknown or deleted project or a principal that is not
// a member.
func (h *Handler) RemoveProjectMember(ctx context.Context, m Meta, c RemoveProjectMember) (Result, error) {
	return onAggregate(ctx, h, m, events.KindProject, c.ProjectID, false, FoldProject, withCommand(DecideRemoveProjectMember, c))
}

// DeleteProject deletes a project and, in the same atomic append, narrows
// every multi-project token that lists it (token.scoped) and revokes every
// token left without a project (token.revoked, reason project-deleted).
// tokens are the ids of the live tokens that list the project, as a read
// model knows them; a token that is revoked, unknown, scoped to all
// projects or no longer lists the project is skipped. A concurrent change to
// the project or to any of the tokens yields ErrConflict and nothing is
// stored. A replayed command id appends nothing and reports the sequence of
// the first attempt's last event (pass the same tokens). Returns
// ErrNotFound for an unknown or deleted project and ErrInvalidOperation
// (wrapped) for the default project.
//
// The caller must list every such token: one it misses keeps listing the
// deleted project. Read the token set at (or after) the stream's last
// sequence before calling.
func (h *Handler) DeleteProject(ctx context.Context, m Meta, projectID string, tokens []string) (Result, error) {
	if h.tokens != nil {
		tokens = append(slices.Clone(tokens), h.tokens.ProjectTokens(projectID)...)
	}
	return onCascade(ctx, h, m, events.KindProject, projectID, cascade[ProjectState]{
		fold: FoldProject,
		decide: func(_ context.Context, s ProjectState, _ *expectation) (events.Payload, error) {
			return DecideDeleteProject(s)
		},
		tokens: tokens,
		token: func(t TokenState) (events.Payload, error) {
			return DecideProjectDeletedToken(t, projectID)
		},
	})
}
