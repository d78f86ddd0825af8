package events

// Principal and catalogue events. Permissions change who may act, so they
// are audited like token events and attributed the same way.
const (
	TypeUserCreated     = "user.created"
	TypeUserRoleChanged = "user.role-changed"
	TypeUserDeleted     = "user.deleted"

	TypeServiceAccountCreated = "serviceaccount.created"
	TypeServiceAccountUpdated = "serviceaccount.updated"
	TypeServiceAccountDeleted = "serviceaccount.deleted"

	TypeRoleCreated = "role.created"
	TypeRoleUpdated = "role.updated"
	TypeRoleDeleted = "role.deleted"

	TypeProjectCreated       = "project.created"
	TypeProjectUpdated       = "project.updated"
	TypeProjectDeleted       = "project.deleted"
	TypeProjectMemberAdded   = "project.member-added"
	TypeProjectMemberRemoved = "project.member-removed"

	TypeEnvironmentCreated = "environment.created"
	TypeEnvironmentUpdated = "environment.updated"
	TypeEnvironmentDeleted = "environment.deleted"
)

// Predefined roles. Root roles: Admin, Editor, Viewer. Project roles: Owner,
// Member. Custom roles are referred to by their aggregate id.
const (
	RoleAdmin  = "Admin"
	RoleEditor = "Editor"
	RoleViewer = "Viewer"
	RoleOwner  = "Owner"
	RoleMember = "Member"
)

// Role types.
const (
	RoleTypeRoot    = "root"
	RoleTypeProject = "project"
)

// UserCreated records a new user; the aggregate id is a UUID and the
// user's integer id (Unleash's) is the stream sequence of this event.
type UserCreated struct {
	Username string `json:"username,omitempty"`
	Email    string `json:"email,omitempty"`
	Name     string `json:"name,omitempty"`
	RootRole string `json:"rootRole"` // a predefined root role name or a custom role's id
}

// UserRoleChanged records a new root role.
type UserRoleChanged struct {
	RootRole string `json:"rootRole"`
	Previous string `json:"previous"`
}

// UserDeleted records a user's removal; their personal tokens are revoked
// in the same atomic append.
type UserDeleted struct{}

// ServiceAccountCreated records a new service account (a principal that
// cannot log in and acts only through its tokens).
type ServiceAccountCreated struct {
	Name     string `json:"name"`
	Username string `json:"username"`
	RootRole string `json:"rootRole"`
}

// ServiceAccountUpdated records a changed name or root role.
type ServiceAccountUpdated struct {
	Name     string `json:"name"`
	RootRole string `json:"rootRole"`
}

// ServiceAccountDeleted records a service account's removal; its tokens are
// revoked in the same atomic append.
type ServiceAccountDeleted struct{}

// RoleCreated records a custom role holding a set of permissions.
type RoleCreated struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"` // RoleTypeRoot or RoleTypeProject
	Description string   `json:"description,omitempty"`
	Permissions []string `json:"permissions"`
}

// RoleUpdated records a custom role's new description and permissions.
type RoleUpdated struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Permissions []string `json:"permissions"`
}

// RoleDeleted records a custom role's removal.
type RoleDeleted struct{}

// ProjectCreated records a project; the aggregate id is the project id.
type ProjectCreated struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// ProjectUpdated records a project's new name and description: the whole
// new state, not a patch (a field the command left unchanged carries its
// previous value; an empty description means none).
type ProjectUpdated struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// ProjectDeleted records a project's removal. Its single-project tokens are
// revoked and its multi-project tokens narrowed in the same atomic append.
type ProjectDeleted struct{}

// ProjectMemberAdded records a principal given a project role.
type ProjectMemberAdded struct {
	Member Owner  `json:"member"` // a user or service account
	Role   string `json:"role"`   // RoleOwner, RoleMember or a custom project role id
}

// ProjectMemberRemoved records a principal losing its project role.
type ProjectMemberRemoved struct {
	Member Owner `json:"member"`
}

// EnvironmentCreated records an environment; the aggregate id is its name.
type EnvironmentCreated struct {
	Type string `json:"type,omitempty"` // e.g. development, production
}

// EnvironmentUpdated records an environment's new type.
type EnvironmentUpdated struct {
	Type string `json:"type"`
}

// EnvironmentDeleted records an environment's removal. Its live client,
// backend and frontend tokens are revoked (reason environment-deleted) in
// the same atomic append. The name is not given to a new environment
// afterwards.
type EnvironmentDeleted struct{}

func (UserCreated) EventType() string           { return TypeUserCreated }
func (UserRoleChanged) EventType() string       { return TypeUserRoleChanged }
func (UserDeleted) EventType() string           { return TypeUserDeleted }
func (ServiceAccountCreated) EventType() string { return TypeServiceAccountCreated }
func (ServiceAccountUpdated) EventType() string { return TypeServiceAccountUpdated }
func (ServiceAccountDeleted) EventType() string { return TypeServiceAccountDeleted }
func (RoleCreated) EventType() string           { return TypeRoleCreated }
func (RoleUpdated) EventType() string           { return TypeRoleUpdated }
func (RoleDeleted) EventType() string           { return TypeRoleDeleted }
func (ProjectCreated) EventType() string        { return TypeProjectCreated }
func (ProjectUpdated) EventType() string        { return TypeProjectUpdated }
func (ProjectDeleted) EventType() string        { return TypeProjectDeleted }
func (ProjectMemberAdded) EventType() string    { return TypeProjectMemberAdded }
func (ProjectMemberRemoved) EventType() string  { return TypeProjectMemberRemoved }
func (EnvironmentCreated) EventType() string    { return TypeEnvironmentCreated }
func (EnvironmentUpdated) EventType() string    { return TypeEnvironmentUpdated }
func (EnvironmentDeleted) EventType() string    { return TypeEnvironmentDeleted }

func (UserCreated) AggregateKind() string           { return KindUser }
func (UserRoleChanged) AggregateKind() string       { return KindUser }
func (UserDeleted) AggregateKind() string           { return KindUser }
func (ServiceAccountCreated) AggregateKind() string { return KindServiceAccount }
func (ServiceAccountUpdated) AggregateKind() string { return KindServiceAccount }
func (ServiceAccountDeleted) AggregateKind() string { return KindServiceAccount }
func (RoleCreated) AggregateKind() string           { return KindRole }
func (RoleUpdated) AggregateKind() string           { return KindRole }
func (RoleDeleted) AggregateKind() string           { return KindRole }
func (ProjectCreated) AggregateKind() string        { return KindProject }
func (ProjectUpdated) AggregateKind() string        { return KindProject }
func (ProjectDeleted) AggregateKind() string        { return KindProject }
func (ProjectMemberAdded) AggregateKind() string    { return KindProject }
func (ProjectMemberRemoved) AggregateKind() string  { return KindProject }
func (EnvironmentCreated) AggregateKind() string    { return KindEnvironment }
func (EnvironmentUpdated) AggregateKind() string    { return KindEnvironment }
func (EnvironmentDeleted) AggregateKind() string    { return KindEnvironment }

func (UserCreated) SchemaVersion() int           { return 1 }
func (UserRoleChanged) SchemaVersion() int       { return 1 }
func (UserDeleted) SchemaVersion() int           { return 1 }
func (ServiceAccountCreated) SchemaVersion() int { return 1 }
func (ServiceAccountUpdated) SchemaVersion() int { return 1 }
func (ServiceAccountDeleted) SchemaVersion() int { return 1 }
func (RoleCreated) SchemaVersion() int           { return 1 }
func (RoleUpdated) SchemaVersion() int           { return 1 }
func (RoleDeleted) SchemaVersion() int           { return 1 }
func (ProjectCreated) SchemaVersion() int        { return 1 }
func (ProjectUpdated) SchemaVersion() int        { return 1 }
func (ProjectDeleted) SchemaVersion() int        { return 1 }
func (ProjectMemberAdded) SchemaVersion() int    { return 1 }
func (ProjectMemberRemoved) SchemaVersion() int  { return 1 }
func (EnvironmentCreated) SchemaVersion() int    { return 1 }
func (EnvironmentUpdated) SchemaVersion() int    { return 1 }
func (EnvironmentDeleted) SchemaVersion() int    { return 1 }

func init() {
	register[UserCreated](1, nil)
	register[UserRoleChanged](1, nil)
	register[UserDeleted](1, nil)
	register[ServiceAccountCreated](1, nil)
	register[ServiceAccountUpdated](1, nil)
	register[ServiceAccountDeleted](1, nil)
	register[RoleCreated](1, nil)
	register[RoleUpdated](1, nil)
	register[RoleDeleted](1, nil)
	register[ProjectCreated](1, nil)
	register[ProjectUpdated](1, nil)
	register[ProjectDeleted](1, nil)
	register[ProjectMemberAdded](1, nil)
	register[ProjectMemberRemoved](1, nil)
	register[EnvironmentCreated](1, nil)
	register[EnvironmentUpdated](1, nil)
	register[EnvironmentDeleted](1, nil)
}
