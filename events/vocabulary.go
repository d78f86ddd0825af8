package events

// The ledger's shared vocabulary: names that are stored in events or
// compared with stored values, defined once here, at the lowest layer, and
// referred to by commands, authz, projections and httpapi.

// Permission names, as Unleash spells them (docs/unleash-contract.md §4).
// Custom roles store them in role.created and role.updated events.
const (
	// PermAdmin satisfies every check. Only the predefined Admin root role
	// holds it; a custom role cannot.
	PermAdmin = "ADMIN"

	// Root-level token permissions. CLIENT covers client and backend tokens.
	PermCreateClientToken   = "CREATE_CLIENT_API_TOKEN"
	PermReadClientToken     = "READ_CLIENT_API_TOKEN"
	PermUpdateClientToken   = "UPDATE_CLIENT_API_TOKEN"
	PermDeleteClientToken   = "DELETE_CLIENT_API_TOKEN"
	PermCreateFrontendToken = "CREATE_FRONTEND_API_TOKEN"
	PermReadFrontendToken   = "READ_FRONTEND_API_TOKEN"
	PermUpdateFrontendToken = "UPDATE_FRONTEND_API_TOKEN"
	PermDeleteFrontendToken = "DELETE_FRONTEND_API_TOKEN"

	// Project-level token permissions. There is none for update.
	PermReadProjectToken   = "READ_PROJECT_API_TOKEN"
	PermCreateProjectToken = "CREATE_PROJECT_API_TOKEN"
	PermDeleteProjectToken = "DELETE_PROJECT_API_TOKEN"

	// PermReadAuditLog lets a custom root role read the audit trail
	// (queries, exports, histories, past states), as ADMIN does.
	PermReadAuditLog = "READ_AUDIT_LOG"
)

// Scope words.
const (
	// AllProjects is the project part of a secret, the projects entry on
	// Unleash's routes, and the project the audit log records, meaning
	// every project, current and future. (In events an all-projects token
	// has TokenCreated.AllProjects set, never this in its list.)
	AllProjects = "*"
	// AllEnvironments is the environment of admin tokens.
	AllEnvironments = "*"
	// DefaultProject is the project every ledger has; it cannot be deleted.
	DefaultProject = "default"
)
