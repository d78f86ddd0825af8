package commands_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
)

// decideCase is one row of a decide table: decide returns the payload or
// an error; wantErr is a sentinel, wantField the ValidationError field
// (with wantMsg a substring of its reason), wantInvalid any
// ValidationError; none of them means success, checked by check when set.
type decideCase struct {
	name        string
	decide      func() (events.Payload, error)
	wantErr     error
	wantField   string
	wantMsg     string
	wantInvalid bool
	check       func(t *testing.T, p events.Payload)
}

// eventOf is a decideCase check that the payload is of event type typ.
func eventOf(typ string) func(t *testing.T, p events.Payload) {
	return func(t *testing.T, p events.Payload) {
		t.Helper()
		if p.EventType() != typ {
			t.Fatalf("event = %s, want %s", p.EventType(), typ)
		}
	}
}

const noField = "\x00" // wantField for a ValidationError without a field

func runDecideTable(t *testing.T, tests []decideCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := tt.decide()
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got %v, want %v", err, tt.wantErr)
				}
			case tt.wantField != "":
				var v *commands.ValidationError
				if !errors.As(err, &v) {
					t.Fatalf("got %v, want a ValidationError on %q", err, tt.wantField)
				}
				if want := strings.TrimPrefix(tt.wantField, noField); v.Field != want {
					t.Errorf("field = %q, want %q (%v)", v.Field, want, err)
				}
				if !strings.Contains(v.Reason, tt.wantMsg) {
					t.Errorf("reason = %q, want it to contain %q", v.Reason, tt.wantMsg)
				}
			case tt.wantInvalid:
				if !commands.IsValidation(err) {
					t.Fatalf("got %v, want a ValidationError", err)
				}
			default:
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if tt.check != nil {
					tt.check(t, p)
				}
			}
		})
	}
}

// Folded states for the tables.
var (
	liveAgg    = commands.AggregateState{Exists: true, ID: "x", Version: 7}
	deletedAgg = commands.AggregateState{Exists: true, Deleted: true, ID: "x", Version: 9}

	customRoot    = commands.RoleState{AggregateState: commands.AggregateState{Exists: true, ID: "r-root"}, Name: "Token admin", Type: events.RoleTypeRoot}
	customProject = commands.RoleState{AggregateState: commands.AggregateState{Exists: true, ID: "r-proj"}, Name: "Token reader", Type: events.RoleTypeProject}
	deletedRoot   = commands.RoleState{AggregateState: commands.AggregateState{Exists: true, Deleted: true, ID: "r-gone"}, Name: "Old", Type: events.RoleTypeRoot}
)

func TestDecideUser(t *testing.T) {
	t.Parallel()
	none := commands.UserState{}
	live := commands.UserState{AggregateState: liveAgg, Username: "alice", RootRole: events.RoleViewer}
	deleted := commands.UserState{AggregateState: deletedAgg}
	create := func(mod func(*commands.CreateUser)) commands.CreateUser {
		c := commands.CreateUser{Username: "alice", Email: "alice@example.com", Name: "Alice", RootRole: events.RoleEditor}
		mod(&c)
		return c
	}
	decideCreate := func(c commands.CreateUser, role commands.RoleState) func() (events.Payload, error) {
		return func() (events.Payload, error) { return commands.DecideCreateUser(none, c, role) }
	}
	tests := []decideCase{
		{name: "create_user_with_username_email_and_predefined_role",
			decide: decideCreate(create(func(*commands.CreateUser) {}), commands.RoleState{}),
			check: func(t *testing.T, p events.Payload) {
				want := events.UserCreated{Username: "alice", Email: "alice@example.com", Name: "Alice", RootRole: events.RoleEditor}
				if p.(events.UserCreated) != want {
					t.Errorf("got %+v, want %+v", p, want)
				}
			}},
		{name: "create_user_with_email_only", decide: decideCreate(create(func(c *commands.CreateUser) { c.Username = "" }), commands.RoleState{})},
		{name: "create_user_with_username_only", decide: decideCreate(create(func(c *commands.CreateUser) { c.Email = "" }), commands.RoleState{})},
		{name: "create_user_with_custom_root_role",
			decide: decideCreate(create(func(c *commands.CreateUser) { c.RootRole = "r-root" }), customRoot)},
		{name: "create_user_without_username_or_email_rejected",
			decide:    decideCreate(create(func(c *commands.CreateUser) { c.Username, c.Email = "", "" }), commands.RoleState{}),
			wantField: "username", wantMsg: "username or email is required"},
		{name: "email_without_at_rejected", decide: decideCreate(create(func(c *commands.CreateUser) { c.Email = "alice.example.com" }), commands.RoleState{}), wantField: "email"},
		{name: "email_with_two_ats_rejected", decide: decideCreate(create(func(c *commands.CreateUser) { c.Email = "a@b@example.com" }), commands.RoleState{}), wantField: "email"},
		{name: "email_without_local_part_rejected", decide: decideCreate(create(func(c *commands.CreateUser) { c.Email = "@example.com" }), commands.RoleState{}), wantField: "email"},
		{name: "email_without_dot_in_domain_rejected", decide: decideCreate(create(func(c *commands.CreateUser) { c.Email = "alice@localhost" }), commands.RoleState{}), wantField: "email"},
		{name: "email_domain_ending_in_dot_rejected", decide: decideCreate(create(func(c *commands.CreateUser) { c.Email = "alice@example." }), commands.RoleState{}), wantField: "email"},
		{name: "email_with_space_rejected", decide: decideCreate(create(func(c *commands.CreateUser) { c.Email = "alice @example.com" }), commands.RoleState{}), wantField: "email"},
		{name: "email_with_newline_rejected", decide: decideCreate(create(func(c *commands.CreateUser) { c.Email = "alice@example.com\n" }), commands.RoleState{}), wantField: "email"},
		{name: "overlong_email_rejected", decide: decideCreate(create(func(c *commands.CreateUser) { c.Email = strings.Repeat("a", 250) + "@example.com" }), commands.RoleState{}), wantField: "email"},
		{name: "overlong_name_rejected", decide: decideCreate(create(func(c *commands.CreateUser) { c.Name = strings.Repeat("é", commands.MaxNameLen+1) }), commands.RoleState{}), wantField: "name"},
		{name: "name_of_max_length_in_characters_accepted", decide: decideCreate(create(func(c *commands.CreateUser) { c.Name = strings.Repeat("é", commands.MaxNameLen) }), commands.RoleState{})},
		{name: "overlong_username_rejected", decide: decideCreate(create(func(c *commands.CreateUser) { c.Username = strings.Repeat("u", commands.MaxNameLen+1) }), commands.RoleState{}), wantField: "username"},
		{name: "missing_root_role_rejected", decide: decideCreate(create(func(c *commands.CreateUser) { c.RootRole = "" }), commands.RoleState{}), wantField: "rootRole", wantMsg: "is required"},
		{name: "predefined_role_spelled_in_lowercase_rejected", decide: decideCreate(create(func(c *commands.CreateUser) { c.RootRole = "admin" }), commands.RoleState{}), wantField: "rootRole", wantMsg: "unknown role"},
		{name: "project_role_as_root_role_rejected", decide: decideCreate(create(func(c *commands.CreateUser) { c.RootRole = events.RoleOwner }), commands.RoleState{}), wantField: "rootRole", wantMsg: "not a root role"},
		{name: "custom_project_role_as_root_role_rejected", decide: decideCreate(create(func(c *commands.CreateUser) { c.RootRole = "r-proj" }), customProject), wantField: "rootRole", wantMsg: "is a project role"},
		{name: "unknown_custom_role_rejected", decide: decideCreate(create(func(c *commands.CreateUser) { c.RootRole = "r-none" }), commands.RoleState{}), wantField: "rootRole", wantMsg: "unknown role"},
		{name: "deleted_custom_role_rejected", decide: decideCreate(create(func(c *commands.CreateUser) { c.RootRole = "r-gone" }), deletedRoot), wantField: "rootRole", wantMsg: "unknown role"},
		{name: "role_state_of_another_role_does_not_vouch", decide: decideCreate(create(func(c *commands.CreateUser) { c.RootRole = "r-other" }), customRoot), wantField: "rootRole", wantMsg: "unknown role"},
		{name: "create_existing_user_is_exists", decide: func() (events.Payload, error) {
			return commands.DecideCreateUser(live, create(func(*commands.CreateUser) {}), commands.RoleState{})
		}, wantErr: commands.ErrExists},

		{name: "change_role_records_previous", decide: func() (events.Payload, error) {
			return commands.DecideChangeUserRole(live, commands.ChangeUserRole{RootRole: events.RoleAdmin}, commands.RoleState{})
		}, check: func(t *testing.T, p events.Payload) {
			if got := p.(events.UserRoleChanged); got.RootRole != events.RoleAdmin || got.Previous != events.RoleViewer {
				t.Errorf("got %+v", got)
			}
		}},
		{name: "change_role_to_custom_root_role", decide: func() (events.Payload, error) {
			return commands.DecideChangeUserRole(live, commands.ChangeUserRole{RootRole: "r-root"}, customRoot)
		}},
		{name: "change_role_to_unknown_role_rejected", decide: func() (events.Payload, error) {
			return commands.DecideChangeUserRole(live, commands.ChangeUserRole{RootRole: "Superuser"}, commands.RoleState{})
		}, wantField: "rootRole"},
		{name: "change_role_of_unknown_user_is_not_found", decide: func() (events.Payload, error) {
			return commands.DecideChangeUserRole(none, commands.ChangeUserRole{RootRole: events.RoleAdmin}, commands.RoleState{})
		}, wantErr: commands.ErrNotFound},
		{name: "change_role_of_deleted_user_is_not_found", decide: func() (events.Payload, error) {
			return commands.DecideChangeUserRole(deleted, commands.ChangeUserRole{RootRole: events.RoleAdmin}, commands.RoleState{})
		}, wantErr: commands.ErrNotFound},

		{name: "delete_live_user", decide: func() (events.Payload, error) { return commands.DecideDeleteUser(live) },
			check: func(t *testing.T, p events.Payload) {
				if p.EventType() != events.TypeUserDeleted {
					t.Errorf("got %s", p.EventType())
				}
			}},
		{name: "delete_unknown_user_is_not_found", decide: func() (events.Payload, error) { return commands.DecideDeleteUser(none) }, wantErr: commands.ErrNotFound},
		{name: "delete_user_twice_is_not_found", decide: func() (events.Payload, error) { return commands.DecideDeleteUser(deleted) }, wantErr: commands.ErrNotFound},
	}
	runDecideTable(t, tests)
}

func TestDecideServiceAccount(t *testing.T) {
	t.Parallel()
	none := commands.ServiceAccountState{}
	live := commands.ServiceAccountState{AggregateState: liveAgg, Name: "ci", Username: "ci-bot", RootRole: events.RoleViewer}
	deleted := commands.ServiceAccountState{AggregateState: deletedAgg}
	create := func(mod func(*commands.CreateServiceAccount)) func() (events.Payload, error) {
		c := commands.CreateServiceAccount{Name: "ci", Username: "ci-bot", RootRole: events.RoleEditor}
		mod(&c)
		return func() (events.Payload, error) {
			return commands.DecideCreateServiceAccount(none, c, commands.RoleState{})
		}
	}
	update := func(s commands.ServiceAccountState, c commands.UpdateServiceAccount, role commands.RoleState) func() (events.Payload, error) {
		return func() (events.Payload, error) { return commands.DecideUpdateServiceAccount(s, c, role) }
	}
	tests := []decideCase{
		{name: "create_service_account", decide: create(func(*commands.CreateServiceAccount) {}),
			check: func(t *testing.T, p events.Payload) {
				want := events.ServiceAccountCreated{Name: "ci", Username: "ci-bot", RootRole: events.RoleEditor}
				if p.(events.ServiceAccountCreated) != want {
					t.Errorf("got %+v", p)
				}
			}},
		{name: "create_without_name_rejected", decide: create(func(c *commands.CreateServiceAccount) { c.Name = "" }), wantField: "name"},
		{name: "create_without_username_rejected", decide: create(func(c *commands.CreateServiceAccount) { c.Username = "" }), wantField: "username"},
		{name: "create_with_overlong_name_rejected", decide: create(func(c *commands.CreateServiceAccount) { c.Name = strings.Repeat("n", 256) }), wantField: "name"},
		{name: "create_without_root_role_rejected", decide: create(func(c *commands.CreateServiceAccount) { c.RootRole = "" }), wantField: "rootRole"},
		{name: "create_with_project_role_rejected", decide: create(func(c *commands.CreateServiceAccount) { c.RootRole = events.RoleMember }), wantField: "rootRole"},
		{name: "create_existing_is_exists", decide: func() (events.Payload, error) {
			return commands.DecideCreateServiceAccount(live, commands.CreateServiceAccount{Name: "a", Username: "b", RootRole: events.RoleAdmin}, commands.RoleState{})
		}, wantErr: commands.ErrExists},

		{name: "update_name_keeps_role", decide: update(live, commands.UpdateServiceAccount{Name: "deploy"}, commands.RoleState{}),
			check: func(t *testing.T, p events.Payload) {
				if got := p.(events.ServiceAccountUpdated); got.Name != "deploy" || got.RootRole != events.RoleViewer {
					t.Errorf("got %+v", got)
				}
			}},
		{name: "update_role_keeps_name", decide: update(live, commands.UpdateServiceAccount{RootRole: "r-root"}, customRoot),
			check: func(t *testing.T, p events.Payload) {
				if got := p.(events.ServiceAccountUpdated); got.Name != "ci" || got.RootRole != "r-root" {
					t.Errorf("got %+v", got)
				}
			}},
		{name: "update_with_nothing_to_change_rejected", decide: update(live, commands.UpdateServiceAccount{}, commands.RoleState{}), wantField: noField, wantMsg: "nothing to update"},
		{name: "update_to_unknown_role_rejected", decide: update(live, commands.UpdateServiceAccount{RootRole: "r-none"}, commands.RoleState{}), wantField: "rootRole"},
		{name: "update_with_overlong_name_rejected", decide: update(live, commands.UpdateServiceAccount{Name: strings.Repeat("n", 256)}, commands.RoleState{}), wantField: "name"},
		{name: "update_unknown_is_not_found", decide: update(none, commands.UpdateServiceAccount{Name: "x"}, commands.RoleState{}), wantErr: commands.ErrNotFound},
		{name: "update_deleted_is_not_found", decide: update(deleted, commands.UpdateServiceAccount{Name: "x"}, commands.RoleState{}), wantErr: commands.ErrNotFound},

		{name: "delete_live_service_account", decide: func() (events.Payload, error) { return commands.DecideDeleteServiceAccount(live) }},
		{name: "delete_unknown_is_not_found", decide: func() (events.Payload, error) { return commands.DecideDeleteServiceAccount(none) }, wantErr: commands.ErrNotFound},
		{name: "delete_twice_is_not_found", decide: func() (events.Payload, error) { return commands.DecideDeleteServiceAccount(deleted) }, wantErr: commands.ErrNotFound},
	}
	runDecideTable(t, tests)
}

func TestDecideRole(t *testing.T) {
	t.Parallel()
	none := commands.RoleState{}
	create := func(mod func(*commands.CreateRole)) func() (events.Payload, error) {
		c := commands.CreateRole{Name: "Token admin", Type: events.RoleTypeRoot, Description: "manages backend tokens",
			Permissions: []string{events.PermReadClientToken, events.PermCreateClientToken}}
		mod(&c)
		return func() (events.Payload, error) { return commands.DecideCreateRole(none, c) }
	}
	update := func(s commands.RoleState, mod func(*commands.UpdateRole)) func() (events.Payload, error) {
		c := commands.UpdateRole{Name: "Renamed", Permissions: []string{events.PermReadProjectToken}}
		mod(&c)
		return func() (events.Payload, error) { return commands.DecideUpdateRole(s, c) }
	}
	perms := func(want ...string) func(t *testing.T, p events.Payload) {
		return func(t *testing.T, p events.Payload) {
			var got []string
			switch d := p.(type) {
			case events.RoleCreated:
				got = d.Permissions
			case events.RoleUpdated:
				got = d.Permissions
			}
			if got == nil || !slices.Equal(got, want) {
				t.Errorf("permissions = %#v, want %#v", got, want)
			}
		}
	}
	tests := []decideCase{
		{name: "create_root_role_permissions_sorted", decide: create(func(*commands.CreateRole) {}),
			check: perms(events.PermCreateClientToken, events.PermReadClientToken)},
		{name: "create_root_role_with_all_eight_token_permissions", decide: create(func(c *commands.CreateRole) { c.Permissions = commands.RootTokenPermissions }),
			check: func(t *testing.T, p events.Payload) {
				if n := len(p.(events.RoleCreated).Permissions); n != 8 {
					t.Errorf("%d permissions, want 8", n)
				}
			}},
		{name: "create_project_role_with_project_permissions", decide: create(func(c *commands.CreateRole) {
			c.Type = events.RoleTypeProject
			c.Permissions = []string{events.PermDeleteProjectToken, events.PermReadProjectToken, events.PermReadProjectToken}
		}), check: perms(events.PermDeleteProjectToken, events.PermReadProjectToken)},
		{name: "create_role_without_permissions_stores_empty_list", decide: create(func(c *commands.CreateRole) { c.Permissions = nil }), check: perms()},
		{name: "root_role_with_project_permission_rejected_naming_it", decide: create(func(c *commands.CreateRole) {
			c.Permissions = []string{events.PermReadClientToken, events.PermCreateProjectToken}
		}), wantField: "permissions", wantMsg: `"CREATE_PROJECT_API_TOKEN" is not a root-role permission`},
		{name: "project_role_with_root_permission_rejected_naming_it", decide: create(func(c *commands.CreateRole) {
			c.Type = events.RoleTypeProject
			c.Permissions = []string{events.PermUpdateFrontendToken}
		}), wantField: "permissions", wantMsg: `"UPDATE_FRONTEND_API_TOKEN" is not a project-role permission`},
		{name: "unknown_permission_rejected_without_repeating_it", decide: create(func(c *commands.CreateRole) { c.Permissions = []string{"CREATE_ADMIN_API_TOKEN"} }),
			wantField: "permissions", wantMsg: "holds a name that is not a permission"},
		{name: "admin_permission_reserved_to_predefined_admin", decide: create(func(c *commands.CreateRole) { c.Permissions = []string{events.PermAdmin} }),
			wantField: "permissions", wantMsg: "ADMIN"},
		{name: "lowercase_permission_rejected", decide: create(func(c *commands.CreateRole) { c.Permissions = []string{"read_client_api_token"} }), wantField: "permissions"},
		{name: "unknown_type_rejected", decide: create(func(c *commands.CreateRole) { c.Type = "global" }), wantField: "type"},
		{name: "missing_type_rejected", decide: create(func(c *commands.CreateRole) { c.Type = "" }), wantField: "type"},
		{name: "missing_name_rejected", decide: create(func(c *commands.CreateRole) { c.Name = "" }), wantField: "name"},
		{name: "overlong_name_rejected", decide: create(func(c *commands.CreateRole) { c.Name = strings.Repeat("r", 256) }), wantField: "name"},
		{name: "predefined_name_rejected", decide: create(func(c *commands.CreateRole) { c.Name = events.RoleEditor }), wantField: "name", wantMsg: "predefined"},
		{name: "predefined_name_in_other_case_rejected", decide: create(func(c *commands.CreateRole) { c.Name = "OWNER" }), wantField: "name", wantMsg: "predefined"},
		{name: "predefined_name_as_id_rejected", decide: create(func(c *commands.CreateRole) { c.RoleID = events.RoleAdmin }), wantField: "id"},
		{name: "overlong_description_rejected", decide: create(func(c *commands.CreateRole) { c.Description = strings.Repeat("d", commands.MaxDescriptionLen+1) }), wantField: "description"},
		{name: "create_existing_is_exists", decide: func() (events.Payload, error) {
			return commands.DecideCreateRole(customRoot, commands.CreateRole{Name: "x", Type: events.RoleTypeRoot})
		}, wantErr: commands.ErrExists},

		{name: "update_validates_against_the_roles_type", decide: update(customProject, func(*commands.UpdateRole) {}),
			check: func(t *testing.T, p events.Payload) {
				if got := p.(events.RoleUpdated); got.Name != "Renamed" || !slices.Equal(got.Permissions, []string{events.PermReadProjectToken}) {
					t.Errorf("got %+v", got)
				}
			}},
		{name: "update_root_role_with_project_permission_rejected", decide: update(customRoot, func(*commands.UpdateRole) {}),
			wantField: "permissions", wantMsg: "READ_PROJECT_API_TOKEN"},
		{name: "update_to_predefined_name_rejected", decide: update(customProject, func(c *commands.UpdateRole) { c.Name = "member" }), wantField: "name"},
		{name: "update_unknown_role_is_not_found", decide: update(none, func(*commands.UpdateRole) {}), wantErr: commands.ErrNotFound},
		{name: "update_deleted_role_is_not_found", decide: update(deletedRoot, func(c *commands.UpdateRole) { c.Permissions = nil }), wantErr: commands.ErrNotFound},

		{name: "delete_custom_role", decide: func() (events.Payload, error) { return commands.DecideDeleteRole(customRoot) }},
		{name: "delete_unknown_role_is_not_found", decide: func() (events.Payload, error) { return commands.DecideDeleteRole(none) }, wantErr: commands.ErrNotFound},
		{name: "delete_role_twice_is_not_found", decide: func() (events.Payload, error) { return commands.DecideDeleteRole(deletedRoot) }, wantErr: commands.ErrNotFound},
	}
	runDecideTable(t, tests)
}

func TestDecideProject(t *testing.T) {
	t.Parallel()
	alice := events.Owner{Kind: events.ActorUser, ID: "u-alice"}
	bot := events.Owner{Kind: events.ActorServiceAccount, ID: "sa-bot"}
	none := commands.ProjectState{}
	live := commands.ProjectState{AggregateState: commands.AggregateState{Exists: true, ID: "checkout", Version: 3},
		Name: "Checkout", Members: map[events.Owner]string{alice: events.RoleMember}}
	deleted := commands.ProjectState{AggregateState: commands.AggregateState{Exists: true, Deleted: true, ID: "old"}}
	defaultProject := commands.ProjectState{AggregateState: commands.AggregateState{Exists: true, ID: commands.DefaultProject}}
	create := func(c commands.CreateProject) func() (events.Payload, error) {
		return func() (events.Payload, error) { return commands.DecideCreateProject(none, c) }
	}
	add := func(s commands.ProjectState, c commands.AddProjectMember, memberLive bool, role commands.RoleState) func() (events.Payload, error) {
		return func() (events.Payload, error) { return commands.DecideAddProjectMember(s, c, memberLive, role) }
	}
	remove := func(s commands.ProjectState, m events.Owner) func() (events.Payload, error) {
		return func() (events.Payload, error) {
			return commands.DecideRemoveProjectMember(s, commands.RemoveProjectMember{ProjectID: s.ID, Member: m})
		}
	}
	tests := []decideCase{
		{name: "create_project_name_defaults_to_id", decide: create(commands.CreateProject{ProjectID: "checkout"}),
			check: func(t *testing.T, p events.Payload) {
				if got := p.(events.ProjectCreated); got.Name != "checkout" || got.Description != "" {
					t.Errorf("got %+v", got)
				}
			}},
		{name: "create_project_with_name_and_description", decide: create(commands.CreateProject{ProjectID: "checkout", Name: "Checkout", Description: "pay"}),
			check: func(t *testing.T, p events.Payload) {
				if got := p.(events.ProjectCreated); got.Name != "Checkout" || got.Description != "pay" {
					t.Errorf("got %+v", got)
				}
			}},
		{name: "create_project_with_empty_id_rejected", decide: create(commands.CreateProject{}), wantField: "id"},
		{name: "create_project_with_dot_in_id_rejected", decide: create(commands.CreateProject{ProjectID: "a.b"}), wantField: "id"},
		{name: "create_project_with_wildcard_id_rejected", decide: create(commands.CreateProject{ProjectID: "*"}), wantField: "id"},
		{name: "create_project_with_overlong_id_rejected", decide: create(commands.CreateProject{ProjectID: strings.Repeat("p", commands.MaxIDLen+1)}), wantField: "id"},
		{name: "create_project_with_overlong_name_rejected", decide: create(commands.CreateProject{ProjectID: "p", Name: strings.Repeat("n", 256)}), wantField: "name"},
		{name: "create_project_with_overlong_description_rejected", decide: create(commands.CreateProject{ProjectID: "p", Description: strings.Repeat("d", 1001)}), wantField: "description"},
		{name: "create_existing_project_is_exists", decide: func() (events.Payload, error) {
			return commands.DecideCreateProject(live, commands.CreateProject{ProjectID: "checkout"})
		}, wantErr: commands.ErrExists},
		{name: "deleted_project_id_is_not_reused", decide: func() (events.Payload, error) {
			return commands.DecideCreateProject(deleted, commands.CreateProject{ProjectID: "old"})
		}, wantErr: commands.ErrExists},

		{name: "delete_project", decide: func() (events.Payload, error) { return commands.DecideDeleteProject(live) }},
		{name: "default_project_cannot_be_deleted", decide: func() (events.Payload, error) { return commands.DecideDeleteProject(defaultProject) }, wantErr: commands.ErrInvalidOperation},
		{name: "delete_unknown_project_is_not_found", decide: func() (events.Payload, error) { return commands.DecideDeleteProject(none) }, wantErr: commands.ErrNotFound},
		{name: "delete_project_twice_is_not_found", decide: func() (events.Payload, error) { return commands.DecideDeleteProject(deleted) }, wantErr: commands.ErrNotFound},

		{name: "add_service_account_as_owner", decide: add(live, commands.AddProjectMember{Member: bot, Role: events.RoleOwner}, true, commands.RoleState{}),
			check: func(t *testing.T, p events.Payload) {
				if got := p.(events.ProjectMemberAdded); got.Member != bot || got.Role != events.RoleOwner {
					t.Errorf("got %+v", got)
				}
			}},
		{name: "add_member_with_custom_project_role", decide: add(live, commands.AddProjectMember{Member: bot, Role: "r-proj"}, true, customProject)},
		{name: "change_existing_members_role", decide: add(live, commands.AddProjectMember{Member: alice, Role: events.RoleOwner}, true, commands.RoleState{})},
		{name: "add_member_with_same_role_is_exists", decide: add(live, commands.AddProjectMember{Member: alice, Role: events.RoleMember}, true, commands.RoleState{}), wantErr: commands.ErrExists},
		{name: "add_unknown_principal_rejected", decide: add(live, commands.AddProjectMember{Member: bot, Role: events.RoleMember}, false, commands.RoleState{}), wantField: "member", wantMsg: "unknown"},
		{name: "add_admin_token_as_member_rejected", decide: add(live, commands.AddProjectMember{Member: events.Owner{Kind: events.ActorAdminToken, ID: "t"}, Role: events.RoleMember}, true, commands.RoleState{}), wantField: "member"},
		{name: "add_member_with_wildcard_id_rejected", decide: add(live, commands.AddProjectMember{Member: events.Owner{Kind: events.ActorUser, ID: ">"}, Role: events.RoleMember}, true, commands.RoleState{}), wantField: "member"},
		{name: "add_member_with_root_role_rejected", decide: add(live, commands.AddProjectMember{Member: bot, Role: events.RoleEditor}, true, commands.RoleState{}), wantField: "role", wantMsg: "not a project role"},
		{name: "add_member_with_custom_root_role_rejected", decide: add(live, commands.AddProjectMember{Member: bot, Role: "r-root"}, true, customRoot), wantField: "role", wantMsg: "is a root role"},
		{name: "add_member_without_role_rejected", decide: add(live, commands.AddProjectMember{Member: bot}, true, commands.RoleState{}), wantField: "role"},
		{name: "add_member_to_deleted_project_is_not_found", decide: add(deleted, commands.AddProjectMember{Member: bot, Role: events.RoleMember}, true, commands.RoleState{}), wantErr: commands.ErrNotFound},

		{name: "remove_member", decide: remove(live, alice)},
		{name: "remove_non_member_is_not_found", decide: remove(live, bot), wantErr: commands.ErrNotFound},
		{name: "remove_from_deleted_project_is_not_found", decide: remove(deleted, alice), wantErr: commands.ErrNotFound},
	}
	runDecideTable(t, tests)
	if len(live.Members) != 1 || live.Members[alice] != events.RoleMember {
		t.Fatal("decide mutated its input state")
	}
}

func TestDecideCreateEnvironment(t *testing.T) {
	t.Parallel()
	decide := func(s commands.EnvironmentState, c commands.CreateEnvironment) func() (events.Payload, error) {
		return func() (events.Payload, error) { return commands.DecideCreateEnvironment(s, c) }
	}
	existing := commands.EnvironmentState{AggregateState: liveAgg}
	tests := []decideCase{
		{name: "create_environment_with_type", decide: decide(commands.EnvironmentState{}, commands.CreateEnvironment{Name: "staging", Type: "preproduction"}),
			check: func(t *testing.T, p events.Payload) {
				if p.(events.EnvironmentCreated).Type != "preproduction" {
					t.Errorf("got %+v", p)
				}
			}},
		{name: "create_environment_without_type", decide: decide(commands.EnvironmentState{}, commands.CreateEnvironment{Name: "qa"})},
		{name: "empty_name_rejected", decide: decide(commands.EnvironmentState{}, commands.CreateEnvironment{}), wantField: "name"},
		{name: "all_environments_star_is_not_a_name", decide: decide(commands.EnvironmentState{}, commands.CreateEnvironment{Name: "*"}), wantField: "name"},
		{name: "type_with_space_rejected", decide: decide(commands.EnvironmentState{}, commands.CreateEnvironment{Name: "qa", Type: "pre prod"}), wantField: "type"},
		{name: "existing_environment_is_exists", decide: decide(existing, commands.CreateEnvironment{Name: "x"}), wantErr: commands.ErrExists},
	}
	runDecideTable(t, tests)
}

func TestDecideCascadedTokens(t *testing.T) {
	t.Parallel()
	alice := events.Owner{Kind: events.ActorUser, ID: "u-alice"}
	bob := events.Owner{Kind: events.ActorUser, ID: "u-bob"}
	saAlice := events.Owner{Kind: events.ActorServiceAccount, ID: "u-alice"} // same id, other kind
	tok := func(mod func(*commands.TokenState)) commands.TokenState {
		s := commands.TokenState{AggregateState: commands.AggregateState{Exists: true, ID: "t"}, Type: events.TokenBackend, Projects: []string{"checkout"}}
		mod(&s)
		return s
	}
	pat := tok(func(s *commands.TokenState) { s.Type, s.Projects, s.Owner = events.TokenPersonal, nil, &alice })
	tests := []struct {
		name   string
		decide func() (events.Payload, error)
		want   events.Payload // nil: the token is skipped
	}{
		{"single_project_token_revoked", func() (events.Payload, error) {
			return commands.DecideProjectDeletedToken(tok(func(*commands.TokenState) {}), "checkout")
		}, events.TokenRevoked{Reason: events.ReasonProjectDeleted}},
		{"multi_project_token_narrowed", func() (events.Payload, error) {
			return commands.DecideProjectDeletedToken(tok(func(s *commands.TokenState) { s.Projects = []string{"checkout", "default"} }), "checkout")
		}, events.TokenScoped{Projects: []string{"default"}, PreviousProjects: []string{"checkout", "default"}, Cause: "project-deleted:checkout"}},
		{"all_projects_token_left_alone", func() (events.Payload, error) {
			return commands.DecideProjectDeletedToken(tok(func(s *commands.TokenState) { s.Projects, s.AllProjects = nil, true }), "checkout")
		}, nil},
		{"token_no_longer_listing_project_skipped", func() (events.Payload, error) {
			return commands.DecideProjectDeletedToken(tok(func(s *commands.TokenState) { s.Projects = []string{"default"} }), "checkout")
		}, nil},
		{"revoked_token_skipped_for_project", func() (events.Payload, error) {
			return commands.DecideProjectDeletedToken(tok(func(s *commands.TokenState) { s.Revoked = true }), "checkout")
		}, nil},
		{"unknown_token_skipped_for_project", func() (events.Payload, error) {
			return commands.DecideProjectDeletedToken(commands.TokenState{}, "checkout")
		}, nil},
		{"owners_token_revoked", func() (events.Payload, error) { return commands.DecideOwnerDeletedToken(pat, alice) },
			events.TokenRevoked{Reason: events.ReasonOwnerDeleted}},
		{"someone_elses_token_skipped", func() (events.Payload, error) { return commands.DecideOwnerDeletedToken(pat, bob) }, nil},
		{"same_id_of_other_principal_kind_skipped", func() (events.Payload, error) { return commands.DecideOwnerDeletedToken(pat, saAlice) }, nil},
		{"unowned_token_skipped", func() (events.Payload, error) {
			return commands.DecideOwnerDeletedToken(tok(func(*commands.TokenState) {}), alice)
		}, nil},
		{"revoked_owned_token_skipped", func() (events.Payload, error) {
			return commands.DecideOwnerDeletedToken(tok(func(s *commands.TokenState) { *s = pat; s.Revoked = true }), alice)
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := tt.decide()
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(p, tt.want) {
				t.Fatalf("got %#v, want %#v", p, tt.want)
			}
		})
	}
}

func TestPermissionSets(t *testing.T) {
	t.Parallel()
	if len(commands.RootTokenPermissions) != 8 || len(commands.ProjectTokenPermissions) != 3 {
		t.Fatalf("root %d, project %d permissions", len(commands.RootTokenPermissions), len(commands.ProjectTokenPermissions))
	}
	for _, p := range append(slices.Clone(commands.RootTokenPermissions), commands.ProjectTokenPermissions...) {
		if !strings.HasSuffix(p, "_API_TOKEN") {
			t.Errorf("%s is not a token permission", p)
		}
	}
	if slices.Contains(commands.AllowedPermissions(events.RoleTypeRoot), events.PermAdmin) {
		t.Error("ADMIN must not be assignable to custom roles")
	}
	if commands.AllowedPermissions("global") != nil {
		t.Error("unknown role type must allow nothing")
	}
	for _, name := range []string{"Admin", "editor", "VIEWER", "Owner", "member"} {
		if !commands.IsPredefinedRole(name) {
			t.Errorf("IsPredefinedRole(%q) = false", name)
		}
	}
	if commands.IsPredefinedRole("Token admin") {
		t.Error("custom name reported as predefined")
	}
}
