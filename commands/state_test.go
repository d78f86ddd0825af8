package commands_test

import (
	"fmt"
	"maps"
	"testing"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
)

// recorded reports whether the state records command id at seq.
func recorded(s commands.AggregateState, id string, seq uint64) bool {
	got, ok := s.Command(id)
	return ok && got == seq
}

// history builds one aggregate's sealed, chained events at the given
// sequences, each with command id "c<seq>".
func history(t *testing.T, id string, seqs []uint64, ps ...events.Payload) []events.Envelope {
	t.Helper()
	out := make([]events.Envelope, len(ps))
	prev := ""
	for i, p := range ps {
		e, err := events.New("01JD00000000000000000000"+string(rune('A'+i))+"0", id, p, now)
		if err != nil {
			t.Fatal(err)
		}
		e.CommandID = "c" + string(rune('0'+seqs[i]))
		e.Prev = prev
		if err := e.Seal(); err != nil {
			t.Fatal(err)
		}
		e.Sequence = seqs[i]
		prev = e.Hash
		out[i] = e
	}
	return out
}

func TestFold_PrincipalAndCatalogueState(t *testing.T) {
	t.Parallel()
	alice := events.Owner{Kind: events.ActorUser, ID: "u-alice"}
	bot := events.Owner{Kind: events.ActorServiceAccount, ID: "sa-bot"}

	t.Run("project_members_follow_adds_role_changes_and_removals", func(t *testing.T) {
		t.Parallel()
		evs := history(t, "checkout", []uint64{1, 3, 4, 6, 7, 9},
			events.ProjectCreated{Name: "Checkout"},
			events.ProjectMemberAdded{Member: alice, Role: events.RoleMember},
			events.ProjectMemberAdded{Member: bot, Role: events.RoleOwner},
			events.ProjectMemberAdded{Member: alice, Role: "r-custom"},
			events.ProjectMemberRemoved{Member: bot},
			events.ProjectDeleted{})
		s, err := commands.FoldProject(evs)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Exists || !s.Deleted || s.Live() || s.ID != "checkout" || s.Name != "Checkout" {
			t.Errorf("state = %+v", s)
		}
		if want := map[events.Owner]string{alice: "r-custom"}; !maps.Equal(s.Members, want) {
			t.Errorf("members = %v, want %v", s.Members, want)
		}
		if s.Version != 9 || s.LastHash != evs[5].Hash {
			t.Errorf("version %d hash %s, want 9 %s", s.Version, s.LastHash, evs[5].Hash)
		}
		for _, seq := range []uint64{1, 3, 4, 6, 7, 9} {
			if id := fmt.Sprintf("c%d", seq); !recorded(s.AggregateState, id, seq) {
				t.Errorf("command %s not recorded at %d", id, seq)
			}
		}
		if seq, ok := s.Command("c2"); ok {
			t.Errorf("command c2 recorded at %d; no event has it", seq)
		}
	})
	t.Run("user_role_change_and_deletion", func(t *testing.T) {
		t.Parallel()
		s, err := commands.FoldUser(history(t, "u1", []uint64{2, 5, 8},
			events.UserCreated{Username: "alice", Email: "a@example.com", RootRole: events.RoleViewer},
			events.UserRoleChanged{RootRole: events.RoleAdmin, Previous: events.RoleViewer},
			events.UserDeleted{}))
		if err != nil {
			t.Fatal(err)
		}
		if !s.Exists || !s.Deleted || s.RootRole != events.RoleAdmin || s.Username != "alice" || s.Version != 8 {
			t.Errorf("state = %+v", s)
		}
	})
	t.Run("service_account_update", func(t *testing.T) {
		t.Parallel()
		s, err := commands.FoldServiceAccount(history(t, "sa", []uint64{1, 2},
			events.ServiceAccountCreated{Name: "CI", Username: "ci", RootRole: events.RoleViewer},
			events.ServiceAccountUpdated{Name: "Deploy", RootRole: events.RoleEditor}))
		if err != nil {
			t.Fatal(err)
		}
		if !s.Live() || s.Name != "Deploy" || s.Username != "ci" || s.RootRole != events.RoleEditor {
			t.Errorf("state = %+v", s)
		}
	})
	t.Run("role_update_keeps_type", func(t *testing.T) {
		t.Parallel()
		s, err := commands.FoldRole(history(t, "r1", []uint64{1, 2},
			events.RoleCreated{Name: "A", Type: events.RoleTypeProject, Permissions: []string{events.PermReadProjectToken}},
			events.RoleUpdated{Name: "B", Permissions: []string{events.PermCreateProjectToken}}))
		if err != nil {
			t.Fatal(err)
		}
		if s.Name != "B" || s.Type != events.RoleTypeProject || len(s.Permissions) != 1 || s.Permissions[0] != events.PermCreateProjectToken {
			t.Errorf("state = %+v", s)
		}
	})
	t.Run("environment_type", func(t *testing.T) {
		t.Parallel()
		s, err := commands.FoldEnvironment(history(t, "production", []uint64{3}, events.EnvironmentCreated{Type: "production"}))
		if err != nil || !s.Live() || s.Type != "production" || s.ID != "production" {
			t.Errorf("state = %+v, %v", s, err)
		}
	})
	t.Run("no_events_is_the_zero_state", func(t *testing.T) {
		t.Parallel()
		s, err := commands.FoldProject(nil)
		if err != nil || s.Exists || s.Version != 0 || s.Members != nil {
			t.Errorf("state = %+v, %v", s, err)
		}
	})
	t.Run("event_of_another_kind_is_an_error", func(t *testing.T) {
		t.Parallel()
		evs := history(t, "x", []uint64{1}, events.UserCreated{Username: "a", RootRole: events.RoleViewer})
		if _, err := commands.FoldRole(evs); err == nil {
			t.Error("FoldRole accepted a user event")
		}
		if _, err := commands.FoldProject(history(t, "x", []uint64{1}, events.TokenRevoked{Reason: events.ReasonDeleted})); err == nil {
			t.Error("FoldProject accepted a token event")
		}
		evs[0].AggregateKind = events.KindServiceAccount // a user payload stored under another kind
		if _, err := commands.FoldUser(evs); err == nil {
			t.Error("FoldUser accepted an event stored under another kind")
		}
	})
}
