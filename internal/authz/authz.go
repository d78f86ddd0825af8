// Package authz is tokenledger's permission model, Unleash's (docs/unleash-contract.md §4): root
// roles Admin, Editor and Viewer, custom root roles holding any of the eight
// token permissions, project roles Owner and Member and custom project roles
// holding READ/CREATE/DELETE_PROJECT_API_TOKEN, and the rule that only ADMIN
// sees or touches admin tokens.
//
// A [Principal] is resolved from the directory projection at the moment of
// each request, so a personal access token acts with its user's roles as
// they are when it is used, not when it was issued.
package authz

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/directory"
)

// Permission names: the wire names defined in events, under the names
// authz's callers use.
const (
	Admin               = events.PermAdmin
	CreateClientToken   = events.PermCreateClientToken
	ReadClientToken     = events.PermReadClientToken
	UpdateClientToken   = events.PermUpdateClientToken
	DeleteClientToken   = events.PermDeleteClientToken
	CreateFrontendToken = events.PermCreateFrontendToken
	ReadFrontendToken   = events.PermReadFrontendToken
	UpdateFrontendToken = events.PermUpdateFrontendToken
	DeleteFrontendToken = events.PermDeleteFrontendToken
	ReadProjectToken    = events.PermReadProjectToken
	CreateProjectToken  = events.PermCreateProjectToken
	DeleteProjectToken  = events.PermDeleteProjectToken
	// ReadAuditLog lets a custom root role read the audit trail.
	ReadAuditLog = events.PermReadAuditLog

	defaultProject       = events.DefaultProject
	credentialAuthProxy  = "auth-proxy"
	credentialAdminToken = events.TokenAdmin
)

// Action is what a caller wants to do with a token.
type Action int

// Actions on tokens.
const (
	Read Action = iota
	Create
	Update
	Delete
)

func (a Action) String() string { return [...]string{"read", "create", "update", "delete"}[a] }

// Principal is an authenticated caller with the permissions it holds now.
type Principal struct {
	Kind  string // events.ActorUser, ActorServiceAccount or ActorAdminToken
	ID    string // user or service-account aggregate id, or the admin token's id
	IntID uint64 // Unleash's integer id of users and service accounts
	Name  string
	// Via is the credential the request came through.
	Via events.Via

	root     map[string]bool
	projects map[string]map[string]bool
}

// Actor is the principal as recorded on events.
func (p *Principal) Actor() events.Actor {
	return events.Actor{Kind: p.Kind, ID: p.ID, Name: p.Name}
}

// Owner is the principal as the owner of tokens and project memberships.
func (p *Principal) Owner() events.Owner { return events.Owner{Kind: p.Kind, ID: p.ID} }

// IsAdmin reports whether the principal holds ADMIN.
func (p *Principal) IsAdmin() bool { return p.root[Admin] }

// Has reports whether the principal holds perm at root level (ADMIN holds
// everything).
func (p *Principal) Has(perm string) bool { return p.root[Admin] || p.root[perm] }

// HasAny reports whether the principal holds any of perms.
func (p *Principal) HasAny(perms ...string) bool {
	return slices.ContainsFunc(perms, p.Has)
}

// HasInProject reports whether the principal holds a project permission in
// project (ADMIN holds everything).
func (p *Principal) HasInProject(project, perm string) bool {
	return p.root[Admin] || p.projects[project][perm]
}

// Permissions lists the root permissions held, sorted (for GET /api/admin/user).
func (p *Principal) Permissions() []string {
	out := make([]string, 0, len(p.root))
	for k := range p.root {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// AdminToken is the principal of a (deprecated) admin API token.
func AdminToken(id, name string, via events.Via) Principal {
	return Principal{Kind: events.ActorAdminToken, ID: id, Name: "admin token " + name, Via: via,
		root: map[string]bool{Admin: true}}
}

// Resolve builds the principal of a user or service account from the
// directory as it is now. ok is false for an unknown or deleted principal.
func Resolve(d *directory.Directory, owner events.Owner, via events.Via) (Principal, bool) {
	var p Principal
	var rootRole string
	switch owner.Kind {
	case events.ActorUser:
		u, ok := d.User(owner.ID)
		if !ok || u.Deleted {
			return Principal{}, false
		}
		p = Principal{Kind: events.ActorUser, ID: u.ID, IntID: u.IntID, Name: firstNonEmpty(u.Email, u.Username, u.Name)}
		rootRole = u.RootRole
	case events.ActorServiceAccount:
		sa, ok := d.ServiceAccount(owner.ID)
		if !ok || sa.Deleted {
			return Principal{}, false
		}
		p = Principal{Kind: events.ActorServiceAccount, ID: sa.ID, IntID: sa.IntID, Name: sa.Username}
		rootRole = sa.RootRole
	default:
		return Principal{}, false
	}
	p.Via = via
	p.root = map[string]bool{}
	p.projects = map[string]map[string]bool{}
	grantProject := func(project string, perms ...string) {
		if p.projects[project] == nil {
			p.projects[project] = map[string]bool{}
		}
		for _, perm := range perms {
			p.projects[project][perm] = true
		}
	}
	switch rootRole {
	case events.RoleAdmin:
		p.root[Admin] = true
	case events.RoleEditor:
		p.root[ReadClientToken] = true
		p.root[ReadFrontendToken] = true
		// Unleash maps an Editor's project permissions to project default.
		grantProject(defaultProject, ReadProjectToken, CreateProjectToken, DeleteProjectToken)
	case events.RoleViewer, "":
	default:
		if r, ok := d.Role(rootRole); ok && !r.Deleted && r.Type == events.RoleTypeRoot {
			for _, perm := range r.Permissions {
				if perm != Admin {
					p.root[perm] = true
				}
			}
		}
	}
	for project, role := range d.ProjectRoles(owner) {
		switch role {
		case events.RoleOwner, events.RoleMember:
			grantProject(project, ReadProjectToken, CreateProjectToken, DeleteProjectToken)
		default:
			if r, ok := d.Role(role); ok && !r.Deleted && r.Type == events.RoleTypeProject {
				grantProject(project, r.Permissions...)
			}
		}
	}
	return p, true
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// TokenPermission is the root permission an action on a token of this type
// needs; "" for types only ADMIN may touch (admin tokens).
func TokenPermission(a Action, tokenType string) string {
	var kind string
	switch tokenType {
	case events.TokenClient, events.TokenBackend:
		kind = "CLIENT"
	case events.TokenFrontend:
		kind = "FRONTEND"
	default:
		return Admin
	}
	return strings.ToUpper(a.String()) + "_" + kind + "_API_TOKEN"
}

// RoutePermissions are the permissions of which a caller must hold one to
// reach the /api/admin/api-tokens routes for an action at all.
func RoutePermissions(a Action) []string {
	return []string{Admin, TokenPermission(a, events.TokenClient), TokenPermission(a, events.TokenFrontend)}
}

// Denied is the error of a missing permission; its message names it.
type Denied struct{ Permission string }

func (d *Denied) Error() string {
	return fmt.Sprintf("You don't have the necessary access [%s] to perform this operation", d.Permission)
}

// CanOnToken checks an action on a token of the given type through the
// root-level routes. Admin tokens need ADMIN; personal and service-account
// tokens are not managed through these routes at all.
func CanOnToken(p *Principal, a Action, tokenType string) error {
	perm := TokenPermission(a, tokenType)
	if !p.Has(perm) {
		return &Denied{Permission: perm}
	}
	return nil
}

// CanInProject checks a project permission.
func CanInProject(p *Principal, project, perm string) error {
	if !p.HasInProject(project, perm) {
		return &Denied{Permission: perm}
	}
	return nil
}

// CanAny checks that the principal holds one of perms.
func CanAny(p *Principal, perms ...string) error {
	if !p.HasAny(perms...) {
		return &Denied{Permission: strings.Join(perms, ", ")}
	}
	return nil
}
