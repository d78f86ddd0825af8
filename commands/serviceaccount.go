package commands

import (
	"context"
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// CreateServiceAccount asks for a new service account.
type CreateServiceAccount struct {
	// ServiceAccountID is the new aggregate's id; the handler generates a
	// UUIDv7 when it is empty.
	ServiceAccountID string
	Name             string
	Username         string
	RootRole         string // a predefined root role name or a custom root role's id
}

// UpdateServiceAccount changes a service account's name or root role. An
// empty field keeps the current value.
type UpdateServiceAccount struct {
	ServiceAccountID string
	Name             string
	RootRole         string
}

// DecideCreateServiceAccount validates a new service account and returns the
// serviceaccount.created payload. role is the folded custom role c.RootRole
// names (zero for a predefined role).
func DecideCreateServiceAccount(s ServiceAccountState, c CreateServiceAccount, role RoleState) (events.ServiceAccountCreated, error) {
	if s.Exists {
		return events.ServiceAccountCreated{}, ErrExists
	}
	if err := checkName("name", c.Name); err != nil {
		return events.ServiceAccountCreated{}, err
	}
	if err := checkName("username", c.Username); err != nil {
		return events.ServiceAccountCreated{}, err
	}
	if err := checkRoleRef("rootRole", c.RootRole, events.RoleTypeRoot, role); err != nil {
		return events.ServiceAccountCreated{}, err
	}
	return events.ServiceAccountCreated{Name: c.Name, Username: c.Username, RootRole: c.RootRole}, nil
}

// DecideUpdateServiceAccount returns the serviceaccount.updated payload,
// which carries the whole new name and root role. role is the folded custom
// role the new root role names (zero for a predefined or unchanged role).
func DecideUpdateServiceAccount(s ServiceAccountState, c UpdateServiceAccount, role RoleState) (events.ServiceAccountUpdated, error) {
	if err := liveAggregate(events.KindServiceAccount, s.AggregateState); err != nil {
		return events.ServiceAccountUpdated{}, err
	}
	if c.Name == "" && c.RootRole == "" {
		return events.ServiceAccountUpdated{}, invalid("", "nothing to update: name or rootRole is required")
	}
	out := events.ServiceAccountUpdated{Name: s.Name, RootRole: s.RootRole}
	if c.Name != "" {
		if err := checkName("name", c.Name); err != nil {
			return events.ServiceAccountUpdated{}, err
		}
		out.Name = c.Name
	}
	if c.RootRole != "" && c.RootRole != s.RootRole {
		if err := checkRoleRef("rootRole", c.RootRole, events.RoleTypeRoot, role); err != nil {
			return events.ServiceAccountUpdated{}, err
		}
		out.RootRole = c.RootRole
	}
	return out, nil
}

// DecideDeleteServiceAccount returns the serviceaccount.deleted payload.
func DecideDeleteServiceAccount(s ServiceAccountState) (events.ServiceAccountDeleted, error) {
	if err := liveAggregate(events.KindServiceAccount, s.AggregateState); err != nil {
		return events.ServiceAccountDeleted{}, err
	}
	return events.ServiceAccountDeleted{}, nil
}

// CreateServiceAccount creates a service account and returns its aggregate
// id. Returns ErrExists when the id is taken, a ValidationError for a bad
// field or unknown role.
func (h *Handler) CreateServiceAccount(ctx context.Context, m Meta, c CreateServiceAccount) (string, Result, error) {
	role, err := h.roleRef(ctx, c.RootRole)
	if err != nil {
		return "", Result{}, err
	}
	return createWithID(ctx, h, m, events.KindServiceAccount, c.ServiceAccountID, FoldServiceAccount,
		func(s ServiceAccountState, _ time.Time) (events.Payload, error) {
			return DecideCreateServiceAccount(s, c, role)
		}, func(ServiceAccountState, events.Payload) []nameOp { return claim(events.ScopeUsername, c.Username) })
}

// UpdateServiceAccount changes a service account's name or root role.
// Returns ErrNotFound for an unknown or deleted service account.
func (h *Handler) UpdateServiceAccount(ctx context.Context, m Meta, c UpdateServiceAccount) (Result, error) {
	role, err := h.roleRef(ctx, c.RootRole)
	if err != nil {
		return Result{}, err
	}
	return onAggregate(ctx, h, m, events.KindServiceAccount, c.ServiceAccountID, false, FoldServiceAccount,
		func(s ServiceAccountState, _ time.Time) (events.Payload, error) {
			return DecideUpdateServiceAccount(s, c, role)
		})
}

// DeleteServiceAccount deletes a service account and revokes its tokens
// (reason owner-deleted) in one atomic append; see [Handler.DeleteUser] for
// how tokens are chosen and how conflicts end.
func (h *Handler) DeleteServiceAccount(ctx context.Context, m Meta, serviceAccountID string, tokens []string) (Result, error) {
	owner := events.Owner{Kind: events.ActorServiceAccount, ID: serviceAccountID}
	return onCascade(ctx, h, m, events.KindServiceAccount, serviceAccountID, cascade[ServiceAccountState]{
		fold: FoldServiceAccount,
		decide: func(_ context.Context, s ServiceAccountState, _ *expectation) (events.Payload, error) {
			return DecideDeleteServiceAccount(s)
		},
		names:  func(s ServiceAccountState) []nameOp { return release(events.ScopeUsername, s.Username) },
		tokens: h.ownedLive(owner, tokens),
		token: func(t TokenState) (events.Payload, error) {
			return DecideOwnerDeletedToken(t, owner)
		},
	})
}
