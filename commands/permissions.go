package commands

import (
	"slices"
	"strings"

	"github.com/tokenledger/tokenledger/events"
)

// Permission names, as Unleash spells them (spec/unleash-tokens.md §4.1).
// They are wire names: custom roles store them in role.created and
// role.updated events.
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
)

// RootTokenPermissions are the permissions a custom root role may hold: the
// eight token permissions. Treat the slice as read-only.
var RootTokenPermissions = []string{
	PermCreateClientToken, PermReadClientToken, PermUpdateClientToken, PermDeleteClientToken,
	PermCreateFrontendToken, PermReadFrontendToken, PermUpdateFrontendToken, PermDeleteFrontendToken,
}

// ProjectTokenPermissions are the permissions a custom project role may
// hold. Treat the slice as read-only.
var ProjectTokenPermissions = []string{PermReadProjectToken, PermCreateProjectToken, PermDeleteProjectToken}

// PredefinedRootRoles are the root roles every ledger has: Admin, Editor and
// Viewer. They are referred to by name; custom roles by their aggregate id.
var PredefinedRootRoles = []string{events.RoleAdmin, events.RoleEditor, events.RoleViewer}

// PredefinedProjectRoles are the project roles every ledger has: Owner and
// Member.
var PredefinedProjectRoles = []string{events.RoleOwner, events.RoleMember}

// IsPredefinedRole reports whether name is one of the five predefined role
// names, compared case-insensitively (so a custom role cannot be named
// "admin" either).
func IsPredefinedRole(name string) bool {
	for _, r := range PredefinedRootRoles {
		if strings.EqualFold(r, name) {
			return true
		}
	}
	for _, r := range PredefinedProjectRoles {
		if strings.EqualFold(r, name) {
			return true
		}
	}
	return false
}

// AllowedPermissions returns the permissions a custom role of roleType may
// hold (nil for an unknown type). The result is a copy.
func AllowedPermissions(roleType string) []string {
	switch roleType {
	case events.RoleTypeRoot:
		return slices.Clone(RootTokenPermissions)
	case events.RoleTypeProject:
		return slices.Clone(ProjectTokenPermissions)
	}
	return nil
}

// isPermission reports whether p is one of the permission names above (a
// closed set, so an error may name it).
func isPermission(p string) bool {
	return p == PermAdmin || slices.Contains(RootTokenPermissions, p) || slices.Contains(ProjectTokenPermissions, p)
}
