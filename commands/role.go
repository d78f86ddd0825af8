package commands

import (
	"context"
	"slices"
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// CreateRole asks for a custom role.
type CreateRole struct {
	// RoleID is the new aggregate's id; the handler generates a UUIDv7 when
	// it is empty. It must not be a predefined role name.
	RoleID      string
	Name        string
	Type        string // events.RoleTypeRoot or events.RoleTypeProject
	Description string
	Permissions []string
}

// UpdateRole replaces a custom role's name, description and permissions.
// Its type never changes.
type UpdateRole struct {
	RoleID string
	// Name is the new name; empty keeps the role's current name (decided
	// on the role's own state, so a concurrent rename is not reverted).
	Name        string
	Description string
	Permissions []string
}

// DecideCreateRole validates a custom role and returns the role.created
// payload with its permissions sorted and deduplicated. Root roles may hold
// the eight token permissions and READ_AUDIT_LOG ([RootPermissions]), project roles the
// three project token permissions ([ProjectTokenPermissions]); ADMIN is
// reserved to the predefined Admin role. Unique role names across roles are
// not decided here: that needs a read model.
func DecideCreateRole(s RoleState, c CreateRole) (events.RoleCreated, error) {
	if s.Exists {
		return events.RoleCreated{}, ErrExists
	}
	if c.Type != events.RoleTypeRoot && c.Type != events.RoleTypeProject {
		return events.RoleCreated{}, invalid("type", "must be root or project")
	}
	if IsPredefinedRole(c.RoleID) {
		return events.RoleCreated{}, invalid("id", "is a predefined role")
	}
	name, desc, perms, err := checkRole(c.Type, c.Name, c.Description, c.Permissions)
	if err != nil {
		return events.RoleCreated{}, err
	}
	return events.RoleCreated{Name: name, Type: c.Type, Description: desc, Permissions: perms}, nil
}

// DecideUpdateRole validates a custom role's new fields against its type and
// returns the role.updated payload.
func DecideUpdateRole(s RoleState, c UpdateRole) (events.RoleUpdated, error) {
	if err := liveAggregate(events.KindRole, s.AggregateState); err != nil {
		return events.RoleUpdated{}, err
	}
	if c.Name == "" {
		c.Name = s.Name
	}
	name, desc, perms, err := checkRole(s.Type, c.Name, c.Description, c.Permissions)
	if err != nil {
		return events.RoleUpdated{}, err
	}
	return events.RoleUpdated{Name: name, Description: desc, Permissions: perms}, nil
}

// DecideDeleteRole returns the role.deleted payload. Whether principals
// still hold the role is not decided here (it needs a read model); they
// lose its permissions.
func DecideDeleteRole(s RoleState) (events.RoleDeleted, error) {
	if err := liveAggregate(events.KindRole, s.AggregateState); err != nil {
		return events.RoleDeleted{}, err
	}
	return events.RoleDeleted{}, nil
}

// checkRole validates the fields shared by create and update and returns
// the permissions sorted and deduplicated (never nil).
func checkRole(roleType, name, description string, permissions []string) (string, string, []string, error) {
	if err := checkName("name", name); err != nil {
		return "", "", nil, err
	}
	if IsPredefinedRole(name) {
		return "", "", nil, invalid("name", "is the name of a predefined role")
	}
	if err := checkDescription("description", description); err != nil {
		return "", "", nil, err
	}
	allowed := AllowedPermissions(roleType)
	perms := make([]string, 0, len(permissions))
	for _, p := range permissions {
		if !slices.Contains(allowed, p) {
			if !isPermission(p) {
				// Not a permission name: it may be anything, a pasted secret included.
				return "", "", nil, invalid("permissions", "holds a name that is not a permission")
			}
			return "", "", nil, invalid("permissions", "%q is not a %s-role permission", p, roleType)
		}
		perms = append(perms, p)
	}
	slices.Sort(perms)
	return name, description, slices.Compact(perms), nil
}

// CreateRole creates a custom role and returns its aggregate id. Returns
// ErrExists when the id is taken, a ValidationError for a bad field or an
// unknown permission (the error names it).
func (h *Handler) CreateRole(ctx context.Context, m Meta, c CreateRole) (string, Result, error) {
	return createWithID(ctx, h, m, events.KindRole, c.RoleID, FoldRole, withCommand(DecideCreateRole, c),
		func(RoleState, events.Payload) []nameOp { return claim(events.ScopeRoleName, c.Name) })
}

// UpdateRole replaces a custom role's name, description and permissions.
// Returns ErrNotFound for an unknown or deleted role (predefined roles
// included: they have no aggregate).
func (h *Handler) UpdateRole(ctx context.Context, m Meta, c UpdateRole) (Result, error) {
	return onAggregateNames(ctx, h, m, events.KindRole, c.RoleID, false, FoldRole, withCommand(DecideUpdateRole, c), func(s RoleState, p events.Payload) []nameOp {
		if p == nil { // a replay: the new name's claim is the batch's last event, if any
			return claim(events.ScopeRoleName, c.Name)
		}
		if c.Name == "" || sameName(events.ScopeRoleName, s.Name, c.Name) {
			return nil
		}
		return append(release(events.ScopeRoleName, s.Name), claim(events.ScopeRoleName, c.Name)...)
	})
}

// DeleteRole deletes a custom role. Returns ErrNotFound for an unknown or
// deleted role.
func (h *Handler) DeleteRole(ctx context.Context, m Meta, roleID string) (Result, error) {
	return onAggregateNames(ctx, h, m, events.KindRole, roleID, false, FoldRole, func(s RoleState, _ time.Time) (events.Payload, error) {
		return DecideDeleteRole(s)
	}, func(s RoleState, _ events.Payload) []nameOp { return release(events.ScopeRoleName, s.Name) })
}
