package authz_test

import (
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/authz"
	"github.com/tokenledger/tokenledger/projections/directory"
)

// dirWith builds a directory from payloads of the given aggregates.
func dirWith(t *testing.T, evs ...struct {
	id string
	p  events.Payload
}) *directory.Directory {
	t.Helper()
	d := directory.New()
	for i, e := range evs {
		env, err := events.New("ev", e.id, e.p, time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		env.Sequence = uint64(i + 1)
		if err := env.Seal(); err != nil {
			t.Fatal(err)
		}
		if err := d.Apply(env); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

type ev = struct {
	id string
	p  events.Payload
}

func TestResolve_PermissionsFollowRolesAtUseTime(t *testing.T) {
	clientOps := events.RoleCreated{Name: "client-ops", Type: events.RoleTypeRoot,
		Permissions: []string{authz.CreateClientToken, authz.ReadClientToken}}
	projReader := events.RoleCreated{Name: "proj-reader", Type: events.RoleTypeProject, Permissions: []string{authz.ReadProjectToken}}
	d := dirWith(t,
		ev{"p1", events.ProjectCreated{Name: "P1"}},
		ev{"default", events.ProjectCreated{Name: "Default"}},
		ev{"r-client", clientOps},
		ev{"r-proj", projReader},
		ev{"admin", events.UserCreated{Username: "admin", RootRole: events.RoleAdmin}},
		ev{"editor", events.UserCreated{Username: "editor", RootRole: events.RoleEditor}},
		ev{"viewer", events.UserCreated{Username: "viewer", RootRole: events.RoleViewer}},
		ev{"ops", events.UserCreated{Username: "ops", RootRole: "r-client"}},
		ev{"member", events.UserCreated{Username: "member", RootRole: events.RoleViewer}},
		ev{"p1", events.ProjectMemberAdded{Member: events.Owner{Kind: events.ActorUser, ID: "member"}, Role: events.RoleMember}},
		ev{"reader", events.UserCreated{Username: "reader", RootRole: events.RoleViewer}},
		ev{"p1", events.ProjectMemberAdded{Member: events.Owner{Kind: events.ActorUser, ID: "reader"}, Role: "r-proj"}},
		ev{"sa", events.ServiceAccountCreated{Name: "ci", Username: "ci", RootRole: events.RoleEditor}},
		ev{"gone", events.UserCreated{Username: "gone", RootRole: events.RoleAdmin}},
		ev{"gone", events.UserDeleted{}},
	)
	user := func(id string) events.Owner { return events.Owner{Kind: events.ActorUser, ID: id} }
	tests := []struct {
		name    string
		owner   events.Owner
		check   func(p *authz.Principal) bool
		want    bool
		resolve bool
	}{
		{"admin_holds_everything", user("admin"), func(p *authz.Principal) bool { return p.IsAdmin() && p.HasInProject("p1", authz.DeleteProjectToken) }, true, true},
		{"editor_reads_client_tokens", user("editor"), func(p *authz.Principal) bool { return p.Has(authz.ReadClientToken) }, true, true},
		{"editor_cannot_create_client_tokens", user("editor"), func(p *authz.Principal) bool { return p.Has(authz.CreateClientToken) }, false, true},
		{"editor_manages_default_project_tokens", user("editor"), func(p *authz.Principal) bool { return p.HasInProject("default", authz.CreateProjectToken) }, true, true},
		{"editor_not_in_other_projects", user("editor"), func(p *authz.Principal) bool { return p.HasInProject("p1", authz.ReadProjectToken) }, false, true},
		{"viewer_holds_nothing", user("viewer"), func(p *authz.Principal) bool {
			return p.HasAny(authz.RoutePermissions(authz.Read)...) || p.HasInProject("default", authz.ReadProjectToken)
		}, false, true},
		{"custom_root_role_grants_its_permissions", user("ops"), func(p *authz.Principal) bool { return p.Has(authz.CreateClientToken) }, true, true},
		{"custom_root_role_grants_nothing_else", user("ops"), func(p *authz.Principal) bool { return p.Has(authz.CreateFrontendToken) || p.IsAdmin() }, false, true},
		{"project_member_manages_project_tokens", user("member"), func(p *authz.Principal) bool { return p.HasInProject("p1", authz.DeleteProjectToken) }, true, true},
		{"project_member_not_elsewhere", user("member"), func(p *authz.Principal) bool { return p.HasInProject("default", authz.ReadProjectToken) }, false, true},
		{"custom_project_role_grants_only_its_permission", user("reader"), func(p *authz.Principal) bool {
			return p.HasInProject("p1", authz.ReadProjectToken) && !p.HasInProject("p1", authz.CreateProjectToken)
		}, true, true},
		{"service_account_acts_with_its_root_role", events.Owner{Kind: events.ActorServiceAccount, ID: "sa"}, func(p *authz.Principal) bool {
			return p.Has(authz.ReadFrontendToken) && !p.Has(authz.CreateFrontendToken)
		}, true, true},
		{"deleted_user_does_not_resolve", user("gone"), nil, false, false},
		{"unknown_user_does_not_resolve", user("nobody"), nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := authz.Resolve(d, tt.owner, events.Via{})
			if ok != tt.resolve {
				t.Fatalf("resolved = %v, want %v", ok, tt.resolve)
			}
			if ok && tt.check(&p) != tt.want {
				t.Fatalf("check = %v, want %v (permissions %v)", !tt.want, tt.want, p.Permissions())
			}
		})
	}
}

func TestTokenPermission_OnlyAdminTouchesAdminTokens(t *testing.T) {
	tests := []struct {
		action authz.Action
		typ    string
		want   string
	}{
		{authz.Create, events.TokenBackend, authz.CreateClientToken},
		{authz.Read, events.TokenClient, authz.ReadClientToken},
		{authz.Update, events.TokenFrontend, authz.UpdateFrontendToken},
		{authz.Delete, events.TokenFrontend, authz.DeleteFrontendToken},
		{authz.Delete, events.TokenAdmin, authz.Admin},
		{authz.Read, events.TokenAdmin, authz.Admin},
		{authz.Read, events.TokenPersonal, authz.Admin},
	}
	for _, tt := range tests {
		if got := authz.TokenPermission(tt.action, tt.typ); got != tt.want {
			t.Errorf("%v %s: %s, want %s", tt.action, tt.typ, got, tt.want)
		}
	}
	admin := authz.AdminToken("id", "ops", events.Via{})
	if err := authz.CanOnToken(&admin, authz.Delete, events.TokenAdmin); err != nil {
		t.Errorf("admin token denied on admin token: %v", err)
	}
	if admin.Actor().Kind != events.ActorAdminToken || admin.Actor().Name != "admin token ops" {
		t.Errorf("admin token actor = %+v", admin.Actor())
	}
}
