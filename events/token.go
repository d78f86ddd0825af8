package events

import "time"

// Token event types.
const (
	TypeTokenCreated       = "token.created"
	TypeTokenScoped        = "token.scoped"
	TypeTokenExpiryChanged = "token.expiry-changed"
	TypeTokenExpired       = "token.expired"
	TypeTokenRevoked       = "token.revoked"
)

// Token types. Client and backend are synonyms (Unleash renamed client to
// backend); both are kept so a token reports the type it was created with.
const (
	TokenClient         = "client"
	TokenBackend        = "backend"
	TokenFrontend       = "frontend"
	TokenAdmin          = "admin"
	TokenPersonal       = "personal"
	TokenServiceAccount = "service-account"
)

// Creation paths: how a token came to exist.
const (
	PathAdminAPI       = "admin-api"
	PathProjectAPI     = "project-api"
	PathPAT            = "pat"
	PathServiceAccount = "service-account"
	PathBootstrap      = "bootstrap"
	PathImport         = "import"
)

// Revocation reasons.
const (
	ReasonDeleted        = "deleted"
	ReasonProjectDeleted = "project-deleted"
	ReasonOwnerDeleted   = "owner-deleted"
	ReasonRotated        = "rotated"
	ReasonCompromised    = "compromised"
	// ReasonEnvironmentDeleted: the token's environment was deleted; the
	// revocation is in the same atomic append as environment.deleted.
	ReasonEnvironmentDeleted = "environment-deleted"
)

// Owner is the principal a personal or service-account token acts as.
type Owner struct {
	Kind string `json:"kind"` // ActorUser or ActorServiceAccount
	ID   string `json:"id"`
}

// TokenCreated records a new token. It carries the verifier (hex SHA-256 of
// the whole secret) and a display hint, never the secret.
type TokenCreated struct {
	TokenType   string     `json:"tokenType"`
	Name        string     `json:"name"`
	Owner       *Owner     `json:"owner,omitempty"`
	Environment string     `json:"environment"`
	Projects    []string   `json:"projects,omitempty"`
	AllProjects bool       `json:"allProjects,omitempty"`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty"`
	Path        string     `json:"path"`
	Verifier    string     `json:"verifier"`
	Hint        string     `json:"hint"`
	// OnBehalfOf is set when an admin issued a personal token for another
	// user (the owner); the actor of the event is the admin.
	OnBehalfOf bool `json:"onBehalfOf,omitempty"`
}

// TokenScoped records a change of a token's project set, e.g. when one of
// its projects was deleted. A scope is never widened to all projects.
type TokenScoped struct {
	Projects         []string `json:"projects"`
	PreviousProjects []string `json:"previousProjects"`
	Cause            string   `json:"cause,omitempty"` // e.g. "project-deleted:<id>"
}

// TokenExpiryChanged records a new expiry; nil means never.
type TokenExpiryChanged struct {
	Previous *time.Time `json:"previous,omitempty"`
	New      *time.Time `json:"new,omitempty"`
}

// TokenExpired records that a token's expiry moment passed. Verification
// checks ExpiresAt itself; this event is the audit record of the moment.
type TokenExpired struct {
	ExpiresAt time.Time `json:"expiresAt"`
}

// TokenRevoked records that a token stopped being valid for good.
type TokenRevoked struct {
	Reason string `json:"reason"`
}

func (TokenCreated) EventType() string       { return TypeTokenCreated }
func (TokenScoped) EventType() string        { return TypeTokenScoped }
func (TokenExpiryChanged) EventType() string { return TypeTokenExpiryChanged }
func (TokenExpired) EventType() string       { return TypeTokenExpired }
func (TokenRevoked) EventType() string       { return TypeTokenRevoked }

func (TokenCreated) AggregateKind() string       { return KindToken }
func (TokenScoped) AggregateKind() string        { return KindToken }
func (TokenExpiryChanged) AggregateKind() string { return KindToken }
func (TokenExpired) AggregateKind() string       { return KindToken }
func (TokenRevoked) AggregateKind() string       { return KindToken }

func (TokenCreated) SchemaVersion() int       { return 1 }
func (TokenScoped) SchemaVersion() int        { return 1 }
func (TokenExpiryChanged) SchemaVersion() int { return 1 }
func (TokenExpired) SchemaVersion() int       { return 1 }
func (TokenRevoked) SchemaVersion() int       { return 1 }

func init() {
	register[TokenCreated](1, decodeTokenCreated)
	register[TokenScoped](1, nil)
	register[TokenExpiryChanged](1, nil)
	register[TokenExpired](1, nil)
	register[TokenRevoked](1, nil)
}
