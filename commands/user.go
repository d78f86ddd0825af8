package commands

import (
	"context"
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// CreateUser asks for a new user.
type CreateUser struct {
	// UserID is the new aggregate's id. The handler generates a UUIDv7 when
	// it is empty; callers that need a stable id (a retry under an
	// idempotency key, an import) set it.
	UserID   string
	Username string // username or email is required
	Email    string
	Name     string
	// RootRole is a predefined root role name (Admin, Editor, Viewer) or the
	// id of a custom root role.
	RootRole string
}

// ChangeUserRole gives a user another root role.
type ChangeUserRole struct {
	UserID   string
	RootRole string
}

// DecideCreateUser validates a new user and returns the user.created
// payload. role is the folded custom role c.RootRole names (zero when it
// names a predefined role). Uniqueness of usernames and e-mails across users
// is not decided here: it needs a read model (projections/directory).
func DecideCreateUser(s UserState, c CreateUser, role RoleState) (events.UserCreated, error) {
	if s.Exists {
		return events.UserCreated{}, ErrExists
	}
	if c.Username == "" && c.Email == "" {
		return events.UserCreated{}, invalid("username", "username or email is required")
	}
	if c.Username != "" {
		if err := checkName("username", c.Username); err != nil {
			return events.UserCreated{}, err
		}
	}
	if c.Email != "" {
		if err := checkEmail("email", c.Email); err != nil {
			return events.UserCreated{}, err
		}
	}
	if c.Name != "" {
		if err := checkName("name", c.Name); err != nil {
			return events.UserCreated{}, err
		}
	}
	if err := checkRoleRef("rootRole", c.RootRole, events.RoleTypeRoot, role); err != nil {
		return events.UserCreated{}, err
	}
	return events.UserCreated{Username: c.Username, Email: c.Email, Name: c.Name, RootRole: c.RootRole}, nil
}

// DecideChangeUserRole returns the user.role-changed payload. Setting the
// role a user already has is recorded too (the request is audited like any
// other).
func DecideChangeUserRole(s UserState, c ChangeUserRole, role RoleState) (events.UserRoleChanged, error) {
	if err := liveAggregate(events.KindUser, s.AggregateState); err != nil {
		return events.UserRoleChanged{}, err
	}
	if err := checkRoleRef("rootRole", c.RootRole, events.RoleTypeRoot, role); err != nil {
		return events.UserRoleChanged{}, err
	}
	return events.UserRoleChanged{RootRole: c.RootRole, Previous: s.RootRole}, nil
}

// DecideDeleteUser returns the user.deleted payload.
func DecideDeleteUser(s UserState) (events.UserDeleted, error) {
	if err := liveAggregate(events.KindUser, s.AggregateState); err != nil {
		return events.UserDeleted{}, err
	}
	return events.UserDeleted{}, nil
}

// CreateUser creates a user and returns its aggregate id. A replayed
// command id (with the same UserID) appends nothing and returns the first
// outcome. Returns ErrExists when the id is taken, a ValidationError for a
// bad field or unknown role.
func (h *Handler) CreateUser(ctx context.Context, m Meta, c CreateUser) (string, Result, error) {
	role, err := h.roleRef(ctx, c.RootRole)
	if err != nil {
		return "", Result{}, err
	}
	return createWithID(ctx, h, m, events.KindUser, c.UserID, FoldUser, func(s UserState, _ time.Time) (events.Payload, error) {
		return DecideCreateUser(s, c, role)
	}, func(UserState, events.Payload) []nameOp {
		return append(claim(events.ScopeUsername, c.Username), claim(events.ScopeUsername, c.Email)...)
	})
}

// ChangeUserRole gives a user another root role. Returns ErrNotFound for an
// unknown or deleted user.
func (h *Handler) ChangeUserRole(ctx context.Context, m Meta, c ChangeUserRole) (Result, error) {
	role, err := h.roleRef(ctx, c.RootRole)
	if err != nil {
		return Result{}, err
	}
	return onAggregate(ctx, h, m, events.KindUser, c.UserID, false, FoldUser, func(s UserState, _ time.Time) (events.Payload, error) {
		return DecideChangeUserRole(s, c, role)
	})
}

// DeleteUser deletes a user and revokes its personal access tokens (reason
// owner-deleted) in one atomic append. tokens are the ids of the user's
// tokens as a read model knows them; tokens already revoked, unknown or not
// owned by the user are skipped. A concurrent change to the user or any of
// the tokens yields ErrConflict and nothing is stored. A replayed command
// id appends nothing and reports the sequence of the first attempt's last
// event (pass the same tokens). Returns ErrNotFound for an unknown or
// deleted user.
func (h *Handler) DeleteUser(ctx context.Context, m Meta, userID string, tokens []string) (Result, error) {
	owner := events.Owner{Kind: events.ActorUser, ID: userID}
	return onCascade(ctx, h, m, events.KindUser, userID, cascade[UserState]{
		fold: FoldUser,
		decide: func(_ context.Context, s UserState, _ *expectation) (events.Payload, error) {
			return DecideDeleteUser(s)
		},
		names:  userNames,
		tokens: h.ownedLive(owner, tokens),
		token: func(t TokenState) (events.Payload, error) {
			return DecideOwnerDeletedToken(t, owner)
		},
	})
}

// userNames are the releases of a deleted user's unique names.
func userNames(s UserState) []nameOp {
	return append(release(events.ScopeUsername, s.Username), release(events.ScopeUsername, s.Email)...)
}
