package commands_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
)

func strp(s string) *string { return &s }

func TestDecideUpdateProject(t *testing.T) {
	t.Parallel()
	live := commands.ProjectState{AggregateState: commands.AggregateState{Exists: true, ID: "checkout", Version: 3},
		Name: "Checkout", Description: "pay"}
	deleted := commands.ProjectState{AggregateState: commands.AggregateState{Exists: true, Deleted: true, ID: "old"}, Name: "Old"}
	defaultProject := commands.ProjectState{AggregateState: commands.AggregateState{Exists: true, ID: commands.DefaultProject}, Name: "Default"}
	update := func(s commands.ProjectState, name, description *string) func() (events.Payload, error) {
		return func() (events.Payload, error) {
			return commands.DecideUpdateProject(s, commands.UpdateProject{ProjectID: s.ID, Name: name, Description: description})
		}
	}
	want := func(w events.ProjectUpdated) func(t *testing.T, p events.Payload) {
		return func(t *testing.T, p events.Payload) {
			if got := p.(events.ProjectUpdated); got != w {
				t.Errorf("got %+v, want %+v", got, w)
			}
		}
	}
	tests := []decideCase{
		{name: "rename_keeps_description", decide: update(live, strp("Checkout & Pay"), nil),
			check: want(events.ProjectUpdated{Name: "Checkout & Pay", Description: "pay"})},
		{name: "new_description_keeps_name", decide: update(live, nil, strp("payments")),
			check: want(events.ProjectUpdated{Name: "Checkout", Description: "payments"})},
		{name: "empty_description_removes_it", decide: update(live, nil, strp("")),
			check: want(events.ProjectUpdated{Name: "Checkout"})},
		{name: "name_and_description_together", decide: update(live, strp("C"), strp("d")),
			check: want(events.ProjectUpdated{Name: "C", Description: "d"})},
		{name: "same_values_are_recorded_as_sent", decide: update(live, strp("Checkout"), strp("pay")),
			check: want(events.ProjectUpdated{Name: "Checkout", Description: "pay"})},
		{name: "default_project_can_be_renamed", decide: update(defaultProject, strp("Main"), nil),
			check: want(events.ProjectUpdated{Name: "Main"})},
		{name: "name_of_max_length_in_characters_accepted", decide: update(live, strp(strings.Repeat("é", commands.MaxNameLen)), nil)},
		{name: "nothing_to_update_rejected", decide: update(live, nil, nil), wantField: noField, wantMsg: "nothing to update"},
		{name: "empty_name_rejected", decide: update(live, strp(""), nil), wantField: "name", wantMsg: "is required"},
		{name: "overlong_name_rejected", decide: update(live, strp(strings.Repeat("é", commands.MaxNameLen+1)), nil), wantField: "name"},
		{name: "invalid_utf8_name_rejected", decide: update(live, strp("\xff"), nil), wantField: "name"},
		{name: "overlong_description_rejected", decide: update(live, nil, strp(strings.Repeat("d", commands.MaxDescriptionLen+1))), wantField: "description"},
		{name: "update_unknown_project_is_not_found", decide: update(commands.ProjectState{}, strp("x"), nil), wantErr: commands.ErrNotFound},
		{name: "update_deleted_project_is_not_found", decide: update(deleted, strp("x"), nil), wantErr: commands.ErrNotFound},
	}
	runDecideTable(t, tests)
}

func TestDecideEnvironmentChanges(t *testing.T) {
	t.Parallel()
	live := commands.EnvironmentState{AggregateState: commands.AggregateState{Exists: true, ID: "staging", Version: 4}, Type: "preproduction"}
	deleted := commands.EnvironmentState{AggregateState: commands.AggregateState{Exists: true, Deleted: true, ID: "old", Version: 8}}
	update := func(s commands.EnvironmentState, typ string) func() (events.Payload, error) {
		return func() (events.Payload, error) {
			return commands.DecideUpdateEnvironment(s, commands.UpdateEnvironment{Name: s.ID, Type: typ})
		}
	}
	del := func(s commands.EnvironmentState, otherLive bool) func() (events.Payload, error) {
		return func() (events.Payload, error) { return commands.DecideDeleteEnvironment(s, otherLive) }
	}
	tests := []decideCase{
		{name: "update_type", decide: update(live, "production"),
			check: func(t *testing.T, p events.Payload) {
				if got := p.(events.EnvironmentUpdated); got != (events.EnvironmentUpdated{Type: "production"}) {
					t.Errorf("got %+v", got)
				}
			}},
		{name: "update_to_same_type_is_recorded", decide: update(live, "preproduction")},
		{name: "update_without_type_rejected", decide: update(live, ""), wantField: "type", wantMsg: "is required"},
		{name: "update_type_with_space_rejected", decide: update(live, "pre prod"), wantField: "type"},
		{name: "update_type_with_dot_rejected", decide: update(live, "a.b"), wantField: "type"},
		{name: "update_unknown_environment_is_not_found", decide: update(commands.EnvironmentState{}, "production"), wantErr: commands.ErrNotFound},
		{name: "update_deleted_environment_is_not_found", decide: update(deleted, "production"), wantErr: commands.ErrNotFound},

		{name: "delete_while_another_is_live", decide: del(live, true),
			check: func(t *testing.T, p events.Payload) {
				if p.EventType() != events.TypeEnvironmentDeleted {
					t.Errorf("got %s", p.EventType())
				}
			}},
		{name: "last_environment_cannot_be_deleted", decide: del(live, false), wantErr: commands.ErrInvalidOperation},
		{name: "delete_unknown_environment_is_not_found", decide: del(commands.EnvironmentState{}, true), wantErr: commands.ErrNotFound},
		{name: "delete_environment_twice_is_not_found", decide: del(deleted, true), wantErr: commands.ErrNotFound},
		{name: "unknown_environment_is_not_found_before_last_check", decide: del(commands.EnvironmentState{}, false), wantErr: commands.ErrNotFound},

		{name: "deleted_environment_name_is_not_reused", decide: func() (events.Payload, error) {
			return commands.DecideCreateEnvironment(deleted, commands.CreateEnvironment{Name: "old", Type: "development"})
		}, wantErr: commands.ErrExists},
	}
	runDecideTable(t, tests)
}

func TestDecideEnvironmentDeletedToken(t *testing.T) {
	t.Parallel()
	alice := &events.Owner{Kind: events.ActorUser, ID: "u-alice"}
	tok := func(mod func(*commands.TokenState)) commands.TokenState {
		s := commands.TokenState{AggregateState: commands.AggregateState{Exists: true, ID: "t"}, Type: events.TokenBackend, Environment: "staging", Projects: []string{"default"}}
		mod(&s)
		return s
	}
	revoked := events.TokenRevoked{Reason: events.ReasonEnvironmentDeleted}
	tests := []struct {
		name string
		tok  commands.TokenState
		env  string
		want events.Payload // nil: the token is skipped
	}{
		{"backend_token_of_the_environment_revoked", tok(func(*commands.TokenState) {}), "staging", revoked},
		{"client_token_of_the_environment_revoked", tok(func(s *commands.TokenState) { s.Type = events.TokenClient }), "staging", revoked},
		{"frontend_token_of_the_environment_revoked", tok(func(s *commands.TokenState) { s.Type = events.TokenFrontend }), "staging", revoked},
		{"all_projects_token_of_the_environment_revoked", tok(func(s *commands.TokenState) { s.Projects, s.AllProjects = nil, true }), "staging", revoked},
		{"expired_token_of_the_environment_revoked", tok(func(s *commands.TokenState) { s.Expired = true }), "staging", revoked},
		{"token_of_another_environment_skipped", tok(func(s *commands.TokenState) { s.Environment = "production" }), "staging", nil},
		{"admin_token_skipped", tok(func(s *commands.TokenState) {
			s.Type, s.Environment, s.Projects, s.AllProjects = events.TokenAdmin, commands.AllEnvironments, nil, true
		}), "staging", nil},
		{"admin_token_skipped_even_for_star", tok(func(s *commands.TokenState) {
			s.Type, s.Environment, s.Projects, s.AllProjects = events.TokenAdmin, commands.AllEnvironments, nil, true
		}), commands.AllEnvironments, nil},
		{"personal_token_skipped", tok(func(s *commands.TokenState) {
			s.Type, s.Environment, s.Projects, s.Owner = events.TokenPersonal, "", nil, alice
		}), "staging", nil},
		{"revoked_token_skipped", tok(func(s *commands.TokenState) { s.Revoked = true }), "staging", nil},
		{"unknown_token_skipped", commands.TokenState{}, "staging", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := commands.DecideEnvironmentDeletedToken(tt.tok, tt.env)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(p, tt.want) {
				t.Fatalf("got %#v, want %#v", p, tt.want)
			}
		})
	}
}

// Ensure the new revocation reason is one DecideRevoke accepts.
func TestDecideRevoke_AcceptsEnvironmentDeletedReason(t *testing.T) {
	t.Parallel()
	s := commands.TokenState{AggregateState: commands.AggregateState{Exists: true, ID: "t"}, Type: events.TokenBackend, Environment: "staging"}
	p, err := commands.DecideRevoke(s, commands.RevokeToken{TokenID: "t", Reason: events.ReasonEnvironmentDeleted})
	if err != nil || p.Reason != events.ReasonEnvironmentDeleted {
		t.Fatalf("got %+v %v", p, err)
	}
}

func TestFold_CatalogueChanges(t *testing.T) {
	t.Parallel()
	t.Run("project_update_replaces_name_and_description", func(t *testing.T) {
		t.Parallel()
		evs := history(t, "checkout", []uint64{1, 4, 6},
			events.ProjectCreated{Name: "Checkout", Description: "pay"},
			events.ProjectUpdated{Name: "Checkout 2", Description: "payments"},
			events.ProjectUpdated{Name: "Checkout 3"})
		s, err := commands.FoldProject(evs)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Live() || s.Name != "Checkout 3" || s.Description != "" || s.Version != 6 || s.LastHash != evs[2].Hash {
			t.Errorf("state = %+v", s)
		}
	})
	t.Run("environment_update_then_delete", func(t *testing.T) {
		t.Parallel()
		evs := history(t, "staging", []uint64{2, 5, 7},
			events.EnvironmentCreated{Type: "test"},
			events.EnvironmentUpdated{Type: "preproduction"},
			events.EnvironmentDeleted{})
		s, err := commands.FoldEnvironment(evs[:2])
		if err != nil {
			t.Fatal(err)
		}
		if !s.Live() || s.Type != "preproduction" || s.Version != 5 {
			t.Errorf("after update: %+v", s)
		}
		s, err = commands.FoldEnvironment(evs)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Exists || !s.Deleted || s.Live() || s.Version != 7 || s.LastHash != evs[2].Hash || !recorded(s.AggregateState, "c7", 7) {
			t.Errorf("after delete: %+v", s)
		}
	})
	t.Run("project_event_in_an_environment_is_an_error", func(t *testing.T) {
		t.Parallel()
		evs := history(t, "staging", []uint64{1, 2}, events.EnvironmentCreated{}, events.ProjectUpdated{Name: "x"})
		if _, err := commands.FoldEnvironment(evs); err == nil {
			t.Fatal("a project.updated folded into an environment")
		}
	})
}
