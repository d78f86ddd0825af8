package directory_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/directory"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// stream hands out sealed envelopes at consecutive sequences, one second
// apart, chained per aggregate.
type stream struct {
	t    *testing.T
	seq  uint64
	last map[string]string
	all  []events.Envelope
}

func newStream(t *testing.T) *stream { return &stream{t: t, last: map[string]string{}} }

func (s *stream) ev(id string, p events.Payload) events.Envelope {
	s.t.Helper()
	s.seq++
	e, err := events.New(fmt.Sprintf("01JD%022d", s.seq), id, p, t0.Add(time.Duration(s.seq)*time.Second))
	if err != nil {
		s.t.Fatal(err)
	}
	e.CommandID = fmt.Sprintf("cmd-%d", s.seq)
	e.Actor = events.System
	key := e.AggregateKind + "/" + id
	e.Prev = s.last[key]
	if err := e.Seal(); err != nil {
		s.t.Fatal(err)
	}
	e.Sequence = s.seq
	s.last[key] = e.Hash
	s.all = append(s.all, e)
	return e
}

// at is the time of the event at seq.
func at(seq uint64) time.Time { return t0.Add(time.Duration(seq) * time.Second) }

func mustApply(t *testing.T, d *directory.Directory, evs ...events.Envelope) {
	t.Helper()
	for _, e := range evs {
		if err := d.Apply(e); err != nil {
			t.Fatalf("apply seq %d: %v", e.Sequence, err)
		}
	}
}

var (
	alice = events.Owner{Kind: events.ActorUser, ID: "u-alice"}
	bot   = events.Owner{Kind: events.ActorServiceAccount, ID: "sa-bot"}
)

// fixture is a small ledger: users, a service account, roles, projects
// with members and environments, plus a token event in between.
func fixture(t *testing.T) *stream {
	s := newStream(t)
	s.ev("default", events.ProjectCreated{Name: "Default"})                                                                           // 1
	s.ev("development", events.EnvironmentCreated{Type: "development"})                                                               // 2
	s.ev("production", events.EnvironmentCreated{Type: "production"})                                                                 // 3
	s.ev("u-alice", events.UserCreated{Username: "alice", Email: "alice@example.com", RootRole: events.RoleViewer})                   // 4
	s.ev("u-bob", events.UserCreated{Email: "Bob@Example.COM", Name: "Bob", RootRole: events.RoleEditor})                             // 5
	s.ev("u-carol", events.UserCreated{Username: "carol", RootRole: events.RoleViewer})                                               // 6
	s.ev("r-ops", events.RoleCreated{Name: "Ops", Type: events.RoleTypeRoot, Permissions: []string{"READ_CLIENT_API_TOKEN"}})         // 7
	s.ev("r-read", events.RoleCreated{Name: "Reader", Type: events.RoleTypeProject, Permissions: []string{"READ_PROJECT_API_TOKEN"}}) // 8
	s.ev("sa-bot", events.ServiceAccountCreated{Name: "Bot", Username: "bot", RootRole: events.RoleViewer})                           // 9
	s.ev("checkout", events.ProjectCreated{Name: "Checkout", Description: "pay"})                                                     // 10
	s.ev("checkout", events.ProjectMemberAdded{Member: alice, Role: events.RoleOwner})                                                // 11
	s.ev("checkout", events.ProjectMemberAdded{Member: bot, Role: "r-read"})                                                          // 12
	s.ev("default", events.ProjectMemberAdded{Member: alice, Role: events.RoleMember})                                                // 13
	s.ev("tok-1", events.TokenRevoked{Reason: events.ReasonDeleted})                                                                  // 14: not ours
	s.ev("u-alice", events.UserRoleChanged{RootRole: "r-ops", Previous: events.RoleViewer})                                           // 15
	s.ev("u-carol", events.UserDeleted{})                                                                                             // 16
	s.ev("r-ops", events.RoleUpdated{Name: "Operators", Permissions: []string{"CREATE_CLIENT_API_TOKEN", "READ_CLIENT_API_TOKEN"}})   // 17
	return s
}

func TestDirectory_Lookups(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	d := directory.New()
	mustApply(t, d, s.all...)
	if d.LastApplied() != 17 {
		t.Fatalf("LastApplied = %d, want 17", d.LastApplied())
	}
	aliceWant := directory.User{ID: "u-alice", IntID: 4, Username: "alice", Email: "alice@example.com", RootRole: "r-ops", CreatedAt: at(4)}
	bobWant := directory.User{ID: "u-bob", IntID: 5, Email: "Bob@Example.COM", Name: "Bob", RootRole: events.RoleEditor, CreatedAt: at(5)}
	carolWant := directory.User{ID: "u-carol", IntID: 6, Username: "carol", RootRole: events.RoleViewer, CreatedAt: at(6), Deleted: true}
	opsWant := directory.Role{ID: "r-ops", IntID: 7, Name: "Operators", Type: events.RoleTypeRoot,
		Permissions: []string{"CREATE_CLIENT_API_TOKEN", "READ_CLIENT_API_TOKEN"}, CreatedAt: at(7)}
	readWant := directory.Role{ID: "r-read", IntID: 8, Name: "Reader", Type: events.RoleTypeProject,
		Permissions: []string{"READ_PROJECT_API_TOKEN"}, CreatedAt: at(8)}
	botWant := directory.ServiceAccount{ID: "sa-bot", IntID: 9, Name: "Bot", Username: "bot", RootRole: events.RoleViewer, CreatedAt: at(9)}
	checkoutWant := directory.Project{ID: "checkout", Name: "Checkout", Description: "pay", CreatedAt: at(10),
		Members: map[events.Owner]string{alice: events.RoleOwner, bot: "r-read"}}
	defaultWant := directory.Project{ID: "default", Name: "Default", CreatedAt: at(1), Members: map[events.Owner]string{alice: events.RoleMember}}

	type lookup[T any] struct {
		name string
		got  func() (T, bool)
		want T
		ok   bool
	}
	users := []lookup[directory.User]{
		{"user_by_id_has_changed_root_role", func() (directory.User, bool) { return d.User("u-alice") }, aliceWant, true},
		{"user_by_int_id_is_created_sequence", func() (directory.User, bool) { return d.UserByIntID(5) }, bobWant, true},
		{"deleted_user_by_id_is_marked_deleted", func() (directory.User, bool) { return d.User("u-carol") }, carolWant, true},
		{"deleted_user_by_int_id", func() (directory.User, bool) { return d.UserByIntID(6) }, carolWant, true},
		{"int_id_of_a_role_is_not_a_user", func() (directory.User, bool) { return d.UserByIntID(7) }, directory.User{}, false},
		{"unknown_user", func() (directory.User, bool) { return d.User("u-nobody") }, directory.User{}, false},
		{"login_by_username", func() (directory.User, bool) { return d.UserByLogin("alice") }, aliceWant, true},
		{"login_by_email_ignores_case", func() (directory.User, bool) { return d.UserByLogin("bob@example.com") }, bobWant, true},
		{"login_by_email_in_other_case", func() (directory.User, bool) { return d.UserByLogin("ALICE@EXAMPLE.COM") }, aliceWant, true},
		{"login_username_is_case_sensitive", func() (directory.User, bool) { return d.UserByLogin("Alice") }, directory.User{}, false},
		{"deleted_user_cannot_log_in", func() (directory.User, bool) { return d.UserByLogin("carol") }, directory.User{}, false},
		{"empty_login_matches_nobody", func() (directory.User, bool) { return d.UserByLogin("") }, directory.User{}, false},
	}
	for _, tt := range users {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.got()
			if ok != tt.ok || got != tt.want {
				t.Errorf("got %+v %v, want %+v %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	accounts := []lookup[directory.ServiceAccount]{
		{"service_account_by_id", func() (directory.ServiceAccount, bool) { return d.ServiceAccount("sa-bot") }, botWant, true},
		{"service_account_by_int_id", func() (directory.ServiceAccount, bool) { return d.ServiceAccountByIntID(9) }, botWant, true},
		{"int_id_of_a_user_is_not_a_service_account", func() (directory.ServiceAccount, bool) { return d.ServiceAccountByIntID(4) }, directory.ServiceAccount{}, false},
	}
	for _, tt := range accounts {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.got()
			if ok != tt.ok || got != tt.want {
				t.Errorf("got %+v %v, want %+v %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	roles := []lookup[directory.Role]{
		{"role_by_id_is_updated", func() (directory.Role, bool) { return d.Role("r-ops") }, opsWant, true},
		{"role_by_int_id", func() (directory.Role, bool) { return d.RoleByIntID(8) }, readWant, true},
		{"role_by_new_name", func() (directory.Role, bool) { return d.RoleByName("Operators") }, opsWant, true},
		{"role_by_old_name_is_gone", func() (directory.Role, bool) { return d.RoleByName("Ops") }, directory.Role{}, false},
		{"predefined_roles_are_not_in_the_directory", func() (directory.Role, bool) { return d.RoleByName(events.RoleAdmin) }, directory.Role{}, false},
	}
	for _, tt := range roles {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.got()
			if ok != tt.ok || !equalRole(got, tt.want) {
				t.Errorf("got %+v %v, want %+v %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	projects := []lookup[directory.Project]{
		{"project_with_members", func() (directory.Project, bool) { return d.Project("checkout") }, checkoutWant, true},
		{"default_project", func() (directory.Project, bool) { return d.Project("default") }, defaultWant, true},
		{"unknown_project", func() (directory.Project, bool) { return d.Project("nope") }, directory.Project{}, false},
	}
	for _, tt := range projects {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.got()
			if ok != tt.ok || !equalProject(got, tt.want) {
				t.Errorf("got %+v %v, want %+v %v", got, ok, tt.want, tt.ok)
			}
		})
	}

	t.Run("lists_leave_out_deleted_and_keep_order", func(t *testing.T) {
		if got := d.Users(); !slices.Equal(got, []directory.User{aliceWant, bobWant}) {
			t.Errorf("Users = %+v", got)
		}
		if got := d.ServiceAccounts(); !slices.Equal(got, []directory.ServiceAccount{botWant}) {
			t.Errorf("ServiceAccounts = %+v", got)
		}
		if got := d.Roles(); len(got) != 2 || !equalRole(got[0], opsWant) || !equalRole(got[1], readWant) {
			t.Errorf("Roles = %+v", got)
		}
		if got := d.Projects(); len(got) != 2 || got[0].ID != "checkout" || got[1].ID != "default" {
			t.Errorf("Projects = %+v", got)
		}
		want := []directory.Environment{{Name: "development", Type: "development", CreatedAt: at(2)}, {Name: "production", Type: "production", CreatedAt: at(3)}}
		if got := d.Environments(); !slices.Equal(got, want) {
			t.Errorf("Environments = %+v", got)
		}
		if got, ok := d.Environment("production"); !ok || got != want[1] {
			t.Errorf("Environment(production) = %+v %v", got, ok)
		}
		if _, ok := d.Environment("*"); ok {
			t.Error("Environment(*) found")
		}
	})
	t.Run("project_roles_of_a_member", func(t *testing.T) {
		want := map[string]string{"checkout": events.RoleOwner, "default": events.RoleMember}
		if got := d.ProjectRoles(alice); !maps.Equal(got, want) {
			t.Errorf("ProjectRoles(alice) = %v, want %v", got, want)
		}
		if got := d.ProjectRoles(events.Owner{Kind: events.ActorServiceAccount, ID: "u-alice"}); got == nil || len(got) != 0 {
			t.Errorf("a service account with alice's id holds %v", got)
		}
	})
	t.Run("lookups_return_copies", func(t *testing.T) {
		r, _ := d.Role("r-ops")
		r.Permissions[0] = "ADMIN"
		p, _ := d.Project("checkout")
		p.Members[bot] = events.RoleOwner
		roles := d.Roles()
		roles[0].Permissions[0] = "ADMIN"
		if again, _ := d.Role("r-ops"); !equalRole(again, opsWant) {
			t.Errorf("role changed through a copy: %+v", again)
		}
		if again, _ := d.Project("checkout"); !equalProject(again, checkoutWant) {
			t.Errorf("project changed through a copy: %+v", again)
		}
	})
}

func equalRole(a, b directory.Role) bool {
	return a.ID == b.ID && a.IntID == b.IntID && a.Name == b.Name && a.Type == b.Type && a.Description == b.Description &&
		slices.Equal(a.Permissions, b.Permissions) && a.CreatedAt.Equal(b.CreatedAt) && a.Deleted == b.Deleted
}

func equalProject(a, b directory.Project) bool {
	ma, mb := a.Members, b.Members
	a.Members, b.Members = nil, nil
	return a.ID == b.ID && a.Name == b.Name && a.Description == b.Description && a.CreatedAt.Equal(b.CreatedAt) &&
		a.Deleted == b.Deleted && maps.Equal(ma, mb)
}

// Ensure deletions keep history for lookups by id and drop the deleted from
// lists, logins and project roles.
func TestDirectory_Deletions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		more  func(s *stream) // events after the fixture
		check func(t *testing.T, d *directory.Directory)
	}{
		{"deleted_project_leaves_lists_and_member_roles", func(s *stream) {
			s.ev("checkout", events.ProjectDeleted{})
		}, func(t *testing.T, d *directory.Directory) {
			if p, ok := d.Project("checkout"); !ok || !p.Deleted {
				t.Errorf("Project(checkout) = %+v %v, want it marked deleted", p, ok)
			}
			if got := d.Projects(); len(got) != 1 || got[0].ID != "default" {
				t.Errorf("Projects = %+v", got)
			}
			if got := d.ProjectRoles(alice); !maps.Equal(got, map[string]string{"default": events.RoleMember}) {
				t.Errorf("ProjectRoles(alice) = %v", got)
			}
		}},
		{"deleted_user_loses_memberships", func(s *stream) {
			s.ev("u-alice", events.UserDeleted{})
		}, func(t *testing.T, d *directory.Directory) {
			if got := d.ProjectRoles(alice); len(got) != 0 {
				t.Errorf("ProjectRoles(deleted alice) = %v", got)
			}
			if p, _ := d.Project("checkout"); !maps.Equal(p.Members, map[events.Owner]string{bot: "r-read"}) {
				t.Errorf("checkout members = %v", p.Members)
			}
			if _, ok := d.UserByLogin("alice@example.com"); ok {
				t.Error("deleted alice can still log in")
			}
		}},
		{"deleted_service_account_loses_memberships_and_leaves_list", func(s *stream) {
			s.ev("sa-bot", events.ServiceAccountUpdated{Name: "Robot", RootRole: events.RoleEditor})
			s.ev("sa-bot", events.ServiceAccountDeleted{})
		}, func(t *testing.T, d *directory.Directory) {
			if got := d.ServiceAccounts(); len(got) != 0 {
				t.Errorf("ServiceAccounts = %+v", got)
			}
			if a, ok := d.ServiceAccount("sa-bot"); !ok || !a.Deleted || a.Name != "Robot" || a.RootRole != events.RoleEditor {
				t.Errorf("ServiceAccount(sa-bot) = %+v %v", a, ok)
			}
			if got := d.ProjectRoles(bot); len(got) != 0 {
				t.Errorf("ProjectRoles(bot) = %v", got)
			}
		}},
		{"deleted_role_leaves_list_and_name_lookup", func(s *stream) {
			s.ev("r-read", events.RoleDeleted{})
		}, func(t *testing.T, d *directory.Directory) {
			if _, ok := d.RoleByName("Reader"); ok {
				t.Error("RoleByName(Reader) found a deleted role")
			}
			if r, ok := d.RoleByIntID(8); !ok || !r.Deleted {
				t.Errorf("RoleByIntID(8) = %+v %v", r, ok)
			}
			if got := d.Roles(); len(got) != 1 || got[0].ID != "r-ops" {
				t.Errorf("Roles = %+v", got)
			}
		}},
		{"member_removed", func(s *stream) {
			s.ev("checkout", events.ProjectMemberRemoved{Member: alice})
		}, func(t *testing.T, d *directory.Directory) {
			if got := d.ProjectRoles(alice); !maps.Equal(got, map[string]string{"default": events.RoleMember}) {
				t.Errorf("ProjectRoles(alice) = %v", got)
			}
		}},
		{"member_role_replaced", func(s *stream) {
			s.ev("checkout", events.ProjectMemberAdded{Member: alice, Role: "r-read"})
		}, func(t *testing.T, d *directory.Directory) {
			if got := d.ProjectRoles(alice)["checkout"]; got != "r-read" {
				t.Errorf("alice's checkout role = %q", got)
			}
		}},
		{"deleted_project_id_created_again_starts_fresh", func(s *stream) {
			s.ev("checkout", events.ProjectDeleted{})
			s.ev("checkout", events.ProjectCreated{Name: "Checkout 2"})
		}, func(t *testing.T, d *directory.Directory) {
			p, ok := d.Project("checkout")
			if !ok || p.Deleted || p.Name != "Checkout 2" || len(p.Members) != 0 {
				t.Errorf("Project(checkout) = %+v %v", p, ok)
			}
		}},
		{"duplicate_usernames_resolve_to_the_oldest_live_user", func(s *stream) {
			s.ev("u-alice2", events.UserCreated{Username: "alice", RootRole: events.RoleViewer})
			s.ev("u-alice", events.UserDeleted{})
		}, func(t *testing.T, d *directory.Directory) {
			if u, ok := d.UserByLogin("alice"); !ok || u.ID != "u-alice2" {
				t.Errorf("UserByLogin(alice) = %+v %v", u, ok)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := fixture(t)
			tt.more(s)
			d := directory.New()
			mustApply(t, d, s.all...)
			tt.check(t, d)
		})
	}
}

// Ensure Apply's contract: idempotent by sequence, foreign kinds advance
// LastApplied only, events it cannot apply leave everything unchanged.
func TestDirectory_ApplyContract(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		event   func(s *stream) events.Envelope // applied after the fixture
		wantErr error                           // nil: applied (or ignored) without error
		anyErr  bool                            // an error that is not ErrCorrupt
		moves   bool                            // LastApplied advances to the event
		changes bool                            // the state other than LastApplied changes
	}{
		{"replayed_sequence_is_ignored", func(s *stream) events.Envelope {
			e := s.all[10]
			return e
		}, nil, false, false, false},
		{"older_sequence_with_other_content_is_ignored", func(s *stream) events.Envelope {
			e := s.ev("u-zed", events.UserCreated{Username: "zed", RootRole: events.RoleViewer})
			e.Sequence = 3
			return e
		}, nil, false, false, false},
		{"token_event_advances_last_applied_only", func(s *stream) events.Envelope {
			return s.ev("tok-9", events.TokenRevoked{Reason: events.ReasonDeleted})
		}, nil, false, true, false},
		{"unknown_kind_advances_last_applied_only", func(s *stream) events.Envelope {
			e := s.ev("tok-9", events.TokenRevoked{Reason: events.ReasonDeleted})
			e.AggregateKind, e.Type = "checkpoint", "checkpoint.taken"
			return e
		}, nil, false, true, false},
		{"new_user_changes_state", func(s *stream) events.Envelope {
			return s.ev("u-zed", events.UserCreated{Username: "zed", RootRole: events.RoleViewer})
		}, nil, false, true, true},
		{"event_without_sequence_is_an_error", func(s *stream) events.Envelope {
			e := s.ev("u-zed", events.UserCreated{Username: "zed", RootRole: events.RoleViewer})
			e.Sequence = 0
			return e
		}, nil, true, false, false},
		{"role_change_of_unknown_user_is_corrupt", func(s *stream) events.Envelope {
			return s.ev("u-nobody", events.UserRoleChanged{RootRole: events.RoleAdmin})
		}, directory.ErrCorrupt, false, false, false},
		{"second_user_created_is_corrupt", func(s *stream) events.Envelope {
			return s.ev("u-alice", events.UserCreated{Username: "mallory", RootRole: events.RoleAdmin})
		}, directory.ErrCorrupt, false, false, false},
		{"second_service_account_created_is_corrupt", func(s *stream) events.Envelope {
			return s.ev("sa-bot", events.ServiceAccountCreated{Name: "x", Username: "x", RootRole: events.RoleAdmin})
		}, directory.ErrCorrupt, false, false, false},
		{"second_role_created_is_corrupt", func(s *stream) events.Envelope {
			return s.ev("r-ops", events.RoleCreated{Name: "x", Type: events.RoleTypeRoot})
		}, directory.ErrCorrupt, false, false, false},
		{"second_environment_created_is_corrupt", func(s *stream) events.Envelope {
			return s.ev("production", events.EnvironmentCreated{Type: "development"})
		}, directory.ErrCorrupt, false, false, false},
		{"live_project_created_again_is_corrupt", func(s *stream) events.Envelope {
			return s.ev("checkout", events.ProjectCreated{Name: "x"})
		}, directory.ErrCorrupt, false, false, false},
		{"member_added_to_unknown_project_is_corrupt", func(s *stream) events.Envelope {
			return s.ev("nope", events.ProjectMemberAdded{Member: alice, Role: events.RoleOwner})
		}, directory.ErrCorrupt, false, false, false},
		{"update_of_unknown_role_is_corrupt", func(s *stream) events.Envelope {
			return s.ev("r-nope", events.RoleUpdated{Name: "x"})
		}, directory.ErrCorrupt, false, false, false},
		{"deletion_of_unknown_service_account_is_corrupt", func(s *stream) events.Envelope {
			return s.ev("sa-nope", events.ServiceAccountDeleted{})
		}, directory.ErrCorrupt, false, false, false},
		{"payload_stored_under_another_kind_is_corrupt", func(s *stream) events.Envelope {
			e := s.ev("u-zed", events.UserCreated{Username: "zed", RootRole: events.RoleViewer})
			e.AggregateKind = events.KindProject
			return e
		}, directory.ErrCorrupt, false, false, false},
		{"undecodable_payload_is_corrupt", func(s *stream) events.Envelope {
			e := s.ev("u-zed", events.UserCreated{Username: "zed", RootRole: events.RoleViewer})
			e.Data = json.RawMessage(`{"username":`)
			return e
		}, directory.ErrCorrupt, false, false, false},
		{"unknown_type_of_an_owned_kind_is_corrupt", func(s *stream) events.Envelope {
			e := s.ev("u-alice", events.UserDeleted{})
			e.Type = "user.renamed"
			return e
		}, directory.ErrCorrupt, false, false, false},
		{"unknown_version_is_corrupt", func(s *stream) events.Envelope {
			e := s.ev("u-alice", events.UserDeleted{})
			e.Version = 99
			return e
		}, directory.ErrCorrupt, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := fixture(t)
			d := directory.New()
			mustApply(t, d, s.all...)
			before, last := d.Digest(), d.LastApplied()
			ref := directory.New() // the fixture state plus LastApplied moved, for "moves only"
			e := tt.event(s)

			err := d.Apply(e)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got %v, want %v", err, tt.wantErr)
				}
			case tt.anyErr:
				if err == nil || errors.Is(err, directory.ErrCorrupt) {
					t.Fatalf("got %v, want an error other than ErrCorrupt", err)
				}
			case err != nil:
				t.Fatalf("unexpected error: %v", err)
			}
			wantLast := last
			if tt.moves {
				wantLast = e.Sequence
			}
			if got := d.LastApplied(); got != wantLast {
				t.Fatalf("LastApplied = %d, want %d", got, wantLast)
			}
			switch {
			case !tt.moves && d.Digest() != before:
				t.Error("state changed")
			case tt.moves && !tt.changes:
				mustApply(t, ref, s.all[:len(s.all)-1]...)
				if err := ref.Apply(tokenAt(t, e.Sequence)); err != nil {
					t.Fatal(err)
				}
				if d.Digest() != ref.Digest() {
					t.Error("state other than LastApplied changed")
				}
			case tt.changes && d.Digest() == before:
				t.Error("state did not change")
			}
		})
	}
}

// tokenAt is a token event at seq: it moves LastApplied and nothing else.
func tokenAt(t *testing.T, seq uint64) events.Envelope {
	e, err := events.New("01JDTOKEN", "tok-x", events.TokenRevoked{Reason: events.ReasonDeleted}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Seal(); err != nil {
		t.Fatal(err)
	}
	e.Sequence = seq
	return e
}

// Ensure the digest is a function of the applied events: two replays (one
// of them fed duplicates) agree, and one more event of any kind differs.
func TestDirectory_DigestIsDeterministic(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	s.ev("checkout", events.ProjectDeleted{})
	s.ev("u-bob", events.UserDeleted{})

	a, b := directory.New(), directory.New()
	mustApply(t, a, s.all...)
	for i, e := range s.all {
		mustApply(t, b, e)
		if i%3 == 0 {
			mustApply(t, b, s.all[:i+1]...) // a restart that re-reads from the start
		}
	}
	if a.Digest() != b.Digest() {
		t.Fatal("two replays of one stream have different digests")
	}
	for range 20 { // map iteration order must not leak into the digest
		if c := directory.New(); func() string { mustApply(t, c, s.all...); return c.Digest() }() != a.Digest() {
			t.Fatal("digest differs between identical replays")
		}
	}
	before := a.Digest()
	mustApply(t, a, s.ev("tok-1", events.TokenRevoked{Reason: events.ReasonDeleted}))
	if a.Digest() == before {
		t.Fatal("digest ignores LastApplied")
	}
	if directory.New().Digest() == before {
		t.Fatal("empty directory has the fixture's digest")
	}
}

// Ensure readers can look things up while events are applied (run with
// -race) and never see a half-applied event.
func TestDirectory_ConcurrentReaders(t *testing.T) {
	t.Parallel()
	s := newStream(t)
	for i := range 200 {
		s.ev(fmt.Sprintf("p%d", i), events.ProjectCreated{Name: "P"})
		s.ev(fmt.Sprintf("p%d", i), events.ProjectMemberAdded{Member: alice, Role: events.RoleOwner})
		s.ev(fmt.Sprintf("u%d", i), events.UserCreated{Username: fmt.Sprintf("user%d", i), RootRole: events.RoleViewer})
	}
	d := directory.New()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				// Every project was created and then got alice as owner in
				// the next event: of the projects seen, at most the newest
				// can be without her, even a moment later.
				n := len(d.Projects())
				if roles := d.ProjectRoles(alice); n-len(roles) > 1 {
					t.Errorf("%d projects but alice in %d", n, len(roles))
					return
				}
				_ = d.Users()
				_, _ = d.UserByLogin("user7")
				_ = d.Digest()
			}
		}()
	}
	mustApply(t, d, s.all...)
	close(done)
	wg.Wait()
	if got := len(d.Users()); got != 200 {
		t.Fatalf("%d users, want 200", got)
	}
}
