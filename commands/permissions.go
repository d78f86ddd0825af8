package commands

import (
	"slices"
	"strings"

	"github.com/tokenledger/tokenledger/events"
)

// RootTokenPermissions are the permissions a custom root role may hold: the
// eight token permissions. Treat the slice as read-only.
var RootTokenPermissions = []string{
	events.PermCreateClientToken, events.PermReadClientToken, events.PermUpdateClientToken, events.PermDeleteClientToken,
	events.PermCreateFrontendToken, events.PermReadFrontendToken, events.PermUpdateFrontendToken, events.PermDeleteFrontendToken,
}

// RootPermissions are every permission a custom root role may hold: the
// eight token permissions and READ_AUDIT_LOG. Treat the slice as read-only.
var RootPermissions = append(slices.Clone(RootTokenPermissions), events.PermReadAuditLog)

// ProjectTokenPermissions are the permissions a custom project role may
// hold. Treat the slice as read-only.
var ProjectTokenPermissions = []string{events.PermReadProjectToken, events.PermCreateProjectToken, events.PermDeleteProjectToken}

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
		return slices.Clone(RootPermissions)
	case events.RoleTypeProject:
		return slices.Clone(ProjectTokenPermissions)
	}
	return nil
}

// isPermission reports whether p is one of the permission names above (a
// closed set, so an error may name it).
func isPermission(p string) bool {
	return p == events.PermAdmin || slices.Contains(RootPermissions, p) || slices.Contains(ProjectTokenPermissions, p)
}
