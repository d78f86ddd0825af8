package commands_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
)

// Unique names are claimed in the stream, in the same atomic append as the
// event that introduces them: of concurrent creates with one name, exactly
// one wins, and the losers append nothing.
func TestNames_ConcurrentCreatesWithOneNameExactlyOneWins(t *testing.T) {
	tests := []struct {
		name   string
		create func(l *ledger, i int) error
	}{
		{"users_with_one_username", func(l *ledger, i int) error {
			_, _, err := l.h.CreateUser(l.ctx, meta(fmt.Sprint("u", i)), commands.CreateUser{Username: "Dora", RootRole: events.RoleViewer})
			return err
		}},
		{"users_with_one_email_in_other_case", func(l *ledger, i int) error {
			_, _, err := l.h.CreateUser(l.ctx, meta(fmt.Sprint("e", i)), commands.CreateUser{Email: []string{"DORA@example.com", "dora@EXAMPLE.com"}[i%2], RootRole: events.RoleViewer})
			return err
		}},
		{"service_account_and_users_share_usernames", func(l *ledger, i int) error {
			if i%2 == 0 {
				_, _, err := l.h.CreateServiceAccount(l.ctx, meta(fmt.Sprint("s", i)), commands.CreateServiceAccount{Name: "CI", Username: "ci", RootRole: events.RoleViewer})
				return err
			}
			_, _, err := l.h.CreateUser(l.ctx, meta(fmt.Sprint("s", i)), commands.CreateUser{Username: "CI", RootRole: events.RoleViewer})
			return err
		}},
		{"roles_with_one_name", func(l *ledger, i int) error {
			_, _, err := l.h.CreateRole(l.ctx, meta(fmt.Sprint("r", i)), commands.CreateRole{Name: "token ops", Type: events.RoleTypeRoot,
				Permissions: []string{events.PermReadClientToken}})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLedger(t)
			const n = 8
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() { defer wg.Done(); errs[i] = tt.create(l, i) }()
			}
			wg.Wait()
			wins := 0
			for _, err := range errs {
				switch {
				case err == nil:
					wins++
				case errors.Is(err, commands.ErrExists), errors.Is(err, commands.ErrConflict):
				default:
					t.Fatalf("unexpected error: %v", err)
				}
			}
			if wins != 1 {
				t.Fatalf("%d creates won, want exactly 1", wins)
			}
			claims := 0
			for _, e := range l.between(1, l.lastSeq()) {
				if e.Type == events.TypeNameClaimed {
					claims++
				}
			}
			if claims != 1 {
				t.Fatalf("%d name claims stored, want 1", claims)
			}
		})
	}
}

func TestNames_DeletingOrRenamingReleasesTheName(t *testing.T) {
	l := newLedger(t)
	user, _, err := l.h.CreateUser(l.ctx, meta("c1"), commands.CreateUser{Username: "eve", Email: "eve@example.com", RootRole: events.RoleViewer})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.h.CreateUser(l.ctx, meta("c2"), commands.CreateUser{Username: "other", Email: "EVE@example.com", RootRole: events.RoleViewer}); !errors.Is(err, commands.ErrExists) {
		t.Fatalf("a taken e-mail: %v, want ErrExists", err)
	}
	if _, err := l.h.DeleteUser(l.ctx, meta("d1"), user, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.h.CreateUser(l.ctx, meta("c3"), commands.CreateUser{Username: "eve", Email: "eve@example.com", RootRole: events.RoleViewer}); err != nil {
		t.Fatalf("the names of a deleted user are not free again: %v", err)
	}

	role, _, err := l.h.CreateRole(l.ctx, meta("r1"), commands.CreateRole{Name: "old", Type: events.RoleTypeRoot, Permissions: []string{events.PermReadClientToken}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.h.UpdateRole(l.ctx, meta("r2"), commands.UpdateRole{RoleID: role, Name: "new", Permissions: []string{events.PermReadClientToken}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.h.CreateRole(l.ctx, meta("r3"), commands.CreateRole{Name: "NEW", Type: events.RoleTypeRoot, Permissions: []string{events.PermReadClientToken}}); !errors.Is(err, commands.ErrExists) {
		t.Fatalf("the new name of a renamed role: %v, want ErrExists", err)
	}
	if _, _, err := l.h.CreateRole(l.ctx, meta("r4"), commands.CreateRole{Name: "old", Type: events.RoleTypeRoot, Permissions: []string{events.PermReadClientToken}}); err != nil {
		t.Fatalf("the old name of a renamed role is not free: %v", err)
	}
	if err := events.VerifyChain(l.load(events.KindName, events.NameID(events.ScopeRoleName, "old"))); err != nil {
		t.Fatalf("name aggregate chain: %v", err)
	}
}

func TestNames_PATDescriptionsAreUniquePerOwnerUntilRevoked(t *testing.T) {
	l := newLedger(t)
	owner := &events.Owner{Kind: events.ActorUser, ID: "u-1"}
	other := &events.Owner{Kind: events.ActorUser, ID: "u-2"}
	exp := now.Add(time.Hour)
	pat := func(o *events.Owner, cmd string) (commands.Created, error) {
		return l.h.CreateToken(l.ctx, meta(cmd), commands.CreateToken{Type: events.TokenPersonal, Name: "laptop",
			Owner: o, ExpiresAt: &exp, Path: events.PathPAT})
	}
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = pat(owner, fmt.Sprint("p", i)) }()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		var taken *commands.NameTakenError
		switch {
		case err == nil:
			wins++
		case errors.As(err, &taken), errors.Is(err, commands.ErrConflict):
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d PATs with one description created, want 1", wins)
	}
	if _, err := pat(other, "other-owner"); err != nil {
		t.Fatalf("another owner may use the same description: %v", err)
	}
	var first string
	for _, e := range l.between(1, l.lastSeq()) {
		if e.Type == events.TypeTokenCreated && first == "" {
			first = e.AggregateID
		}
	}
	if _, err := l.h.RevokeToken(l.ctx, meta("rv"), commands.RevokeToken{TokenID: first, Reason: events.ReasonDeleted}); err != nil {
		t.Fatal(err)
	}
	if _, err := pat(owner, "after-revoke"); err != nil {
		t.Fatalf("a revoked PAT's description is not free again: %v", err)
	}
}

// A create's CreatedSeq is the token.created event's own sequence, also
// when the batch carries claims after it (a PAT's id must not be the
// claim's sequence).
func TestCreateToken_CreatedSeqIsTheCreatedEventsSequence(t *testing.T) {
	l := newLedger(t)
	exp := now.Add(time.Hour)
	m := meta("pat-1")
	m.Key = "some-key"
	c, err := l.h.CreateToken(l.ctx, m, commands.CreateToken{Type: events.TokenPersonal, Name: "laptop",
		Owner: &events.Owner{Kind: events.ActorUser, ID: "u-1"}, ExpiresAt: &exp, Path: events.PathPAT})
	if err != nil {
		t.Fatal(err)
	}
	evs := l.load(events.KindToken, c.TokenID)
	// The batch: token.created, the description, the first-personal-token
	// claim, the slot claim, the key claim.
	if len(evs) != 1 || evs[0].Sequence != c.CreatedSeq || c.Seq != c.CreatedSeq+4 {
		t.Fatalf("CreatedSeq %d, batch ends at %d; token.created at %d", c.CreatedSeq, c.Seq, evs[0].Sequence)
	}
	again, err := l.h.CreateToken(l.ctx, m, commands.CreateToken{TokenID: c.TokenID, Type: events.TokenPersonal, Name: "laptop",
		Owner: &events.Owner{Kind: events.ActorUser, ID: "u-1"}, ExpiresAt: &exp, Path: events.PathPAT})
	if err != nil || !again.Replayed || again.CreatedSeq != c.CreatedSeq {
		t.Fatalf("replay: %+v, %v", again, err)
	}
}
