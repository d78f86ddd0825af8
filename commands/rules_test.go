package commands_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
)

// run calls f(0..n-1) at once and returns the errors in order.
func run(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// successes counts the nil errors of errs and fails t, naming the
// operation what, on any error that is none of allowed.
func successes(t *testing.T, what string, errs []error, allowed ...error) int {
	t.Helper()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case slices.ContainsFunc(allowed, func(a error) bool { return errors.Is(err, a) }):
		default:
			t.Fatalf("%s: %v", what, err)
		}
	}
	return ok
}

func countTypes(evs []events.Envelope, typ string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// Sixteen concurrent account-token creates for one owner store at most
// MaxAccountTokens; the others are refused with ErrTooManyTokens (or
// ErrConflict when their bounded re-decisions ran out), none appends.
func TestHandler_AccountTokenLimitHoldsUnderConcurrency(t *testing.T) {
	l := newLedger(t)
	exp := now.Add(time.Hour)
	owner := &events.Owner{Kind: events.ActorServiceAccount, ID: "sa-1"}
	limit := l.h.MaxAccountTokens()
	errs := run(16, func(i int) error {
		_, err := l.h.CreateToken(l.ctx, meta(""), commands.CreateToken{Type: events.TokenServiceAccount, Name: fmt.Sprintf("t%d", i),
			Owner: owner, ExpiresAt: &exp, Path: events.PathServiceAccount})
		return err
	})
	ok := successes(t, "create", errs, commands.ErrTooManyTokens, commands.ErrConflict)
	created := countTypes(l.between(1, l.lastSeq()), events.TypeTokenCreated)
	if ok > limit || created != ok || ok == 0 {
		t.Fatalf("%d creates succeeded, %d token.created stored, limit %d", ok, created, limit)
	}
}

// Concurrent on-behalf creates of a user's first personal token store
// exactly one; the others get ErrNotFirstToken. A later own token is fine,
// a later on-behalf one is not.
func TestHandler_OnBehalfFirstPersonalTokenHasOneWinner(t *testing.T) {
	l := newLedger(t)
	exp := now.Add(time.Hour)
	owner := &events.Owner{Kind: events.ActorUser, ID: "u-1"}
	create := func(name string, onBehalf bool) error {
		_, err := l.h.CreateToken(l.ctx, meta(""), commands.CreateToken{Type: events.TokenPersonal, Name: name,
			Owner: owner, ExpiresAt: &exp, Path: events.PathPAT, OnBehalfOf: onBehalf})
		return err
	}
	errs := run(8, func(i int) error { return create(fmt.Sprintf("first-%d", i), true) })
	ok := successes(t, "create", errs, commands.ErrNotFirstToken)
	if ok != 1 {
		t.Fatalf("%d on-behalf first tokens, want 1", ok)
	}
	if err := create("own", false); err != nil {
		t.Fatalf("own token: %v", err)
	}
	if err := create("again", true); !errors.Is(err, commands.ErrNotFirstToken) {
		t.Fatalf("on-behalf after the first: %v, want ErrNotFirstToken", err)
	}
}

// Concurrent revocations of one token store one token.revoked; each other
// one decides again on the fresh token and gets ErrGone (the goal holds),
// never a bare ErrConflict.
func TestHandler_ConcurrentRevocationsExplainTheirConflict(t *testing.T) {
	l := newLedger(t)
	id := l.token(commands.CreateToken{Type: events.TokenBackend, Projects: []string{"*"}})
	errs := run(8, func(int) error {
		_, err := l.h.RevokeToken(l.ctx, meta(""), commands.RevokeToken{TokenID: id, Reason: events.ReasonDeleted})
		return err
	})
	ok := successes(t, "revoke", errs, commands.ErrGone)
	if n := countTypes(l.load(events.KindToken, id), events.TypeTokenRevoked); ok != 1 || n != 1 {
		t.Fatalf("%d revocations succeeded, %d stored, want 1 and 1", ok, n)
	}
}

// Deleting one of the last two environments while the other one's
// deletion is appended between this one's reads and its append: the
// expectation over every environment event makes it conflict, and deciding
// again finds it is the last (ErrInvalidOperation). One environment stays.
func TestHandler_LastTwoEnvironmentsDeletedAtOnceLeaveOne(t *testing.T) {
	l := newLedger(t)
	for _, name := range []string{"blue", "green"} {
		if _, err := l.h.CreateEnvironment(l.ctx, meta(""), commands.CreateEnvironment{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	hooked := &hookStore{Store: l.store}
	h := newTestHandler(hooked)
	err := hooked.raceAfterLoad(t, events.KindEnvironment, "green", func() error {
		_, err := l.h.DeleteEnvironment(l.ctx, meta("del-green"), commands.DeleteEnvironment{Name: "green", Others: []string{"blue"}})
		return err
	}, func() error {
		_, err := h.DeleteEnvironment(l.ctx, meta("del-blue"), commands.DeleteEnvironment{Name: "blue", Others: []string{"green"}})
		return err
	})
	if !errors.Is(err, commands.ErrInvalidOperation) {
		t.Fatalf("got %v, want ErrInvalidOperation", err)
	}
	if evs := l.load(events.KindEnvironment, "blue"); len(evs) != 1 {
		t.Fatalf("blue has %d events, want only its creation", len(evs))
	}
}

// A secret the ledger did not generate gets a hint without any of its
// characters; a generated one shows its last four.
func TestHandler_HintsOfForeignSecretsRevealNothing(t *testing.T) {
	l := newLedger(t)
	l.seedCatalogue()
	hand := "*:*.my-hand-chosen-admin-secret-1234"
	c, err := l.h.CreateToken(l.ctx, meta(""), commands.CreateToken{Type: events.TokenAdmin, Name: "boot", Environment: commands.AllEnvironments,
		Projects: []string{"*"}, Path: events.PathBootstrap, Secret: commands.NewSecretFrom(hand)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Token.Hint != "*:*.…" {
		t.Fatalf("hint of a hand-chosen secret %q, want %q", c.Token.Hint, "*:*.…")
	}
	g, err := l.h.CreateToken(l.ctx, meta(""), commands.CreateToken{Type: events.TokenBackend, Name: "gen", Environment: "development",
		Projects: []string{"*"}, Path: events.PathAdminAPI})
	if err != nil {
		t.Fatal(err)
	}
	if sec := g.Secret.Reveal(); g.Token.Hint != commands.Hint(sec) || len(g.Token.Hint) < 4 || g.Token.Hint[len(g.Token.Hint)-4:] != sec[len(sec)-4:] {
		t.Fatalf("hint of a generated secret %q", g.Token.Hint)
	}
}

// A member added while the project is deleted between the command's read
// and its append: the project's expectation makes the append conflict,
// and deciding again on the deleted project answers ErrNotFound.
func TestHandler_MemberAddedDuringProjectDeletionIsNotFound(t *testing.T) {
	l := newLedger(t)
	if _, err := l.h.CreateProject(l.ctx, meta(""), commands.CreateProject{ProjectID: "p1"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.h.CreateUser(l.ctx, meta(""), commands.CreateUser{UserID: "u-bob", Username: "bob", RootRole: events.RoleViewer}); err != nil {
		t.Fatal(err)
	}
	hooked := &hookStore{Store: l.store}
	h := newTestHandler(hooked)
	err := hooked.raceAfterLoad(t, events.KindProject, "p1", func() error {
		_, err := l.h.DeleteProject(l.ctx, meta("del-p1"), "p1", nil)
		return err
	}, func() error {
		_, err := h.AddProjectMember(l.ctx, meta("add-bob"), commands.AddProjectMember{ProjectID: "p1",
			Member: events.Owner{Kind: events.ActorUser, ID: "u-bob"}, Role: events.RoleMember})
		return err
	})
	if !errors.Is(err, commands.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
}

// An update that omits the name keeps the role's current one, decided on
// the role's own state: a rename made meanwhile is not reverted.
func TestHandler_RoleUpdateWithoutNameKeepsTheCurrentName(t *testing.T) {
	l := newLedger(t)
	id, _, err := l.h.CreateRole(l.ctx, meta(""), commands.CreateRole{Name: "ops", Type: events.RoleTypeRoot})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.h.UpdateRole(l.ctx, meta(""), commands.UpdateRole{RoleID: id, Name: "operators"}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.h.UpdateRole(l.ctx, meta(""), commands.UpdateRole{RoleID: id, Description: "runs things"}); err != nil {
		t.Fatal(err)
	}
	evs := l.load(events.KindRole, id)
	p, err := evs[len(evs)-1].Payload()
	if err != nil {
		t.Fatal(err)
	}
	if u := p.(events.RoleUpdated); u.Name != "operators" || u.Description != "runs things" {
		t.Fatalf("update without a name stored %+v", u)
	}
}

// Removing a member names the role it removes; the project's own state
// decides whether the member holds it (a role changed meanwhile is not
// removed under its old name).
func TestHandler_RemoveMemberChecksTheHeldRoleOnTheProject(t *testing.T) {
	l := newLedger(t)
	if _, err := l.h.CreateProject(l.ctx, meta(""), commands.CreateProject{ProjectID: "p1"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.h.CreateUser(l.ctx, meta(""), commands.CreateUser{UserID: "u-cy", Username: "cy", RootRole: events.RoleViewer}); err != nil {
		t.Fatal(err)
	}
	cy := events.Owner{Kind: events.ActorUser, ID: "u-cy"}
	if _, err := l.h.AddProjectMember(l.ctx, meta(""), commands.AddProjectMember{ProjectID: "p1", Member: cy, Role: events.RoleOwner}); err != nil {
		t.Fatal(err)
	}
	_, err := l.h.RemoveProjectMember(l.ctx, meta(""), commands.RemoveProjectMember{ProjectID: "p1", Member: cy, Role: events.RoleMember})
	if !errors.Is(err, commands.ErrNotFound) {
		t.Fatalf("removing a role the member does not hold: %v, want ErrNotFound", err)
	}
	if _, err := l.h.RemoveProjectMember(l.ctx, meta(""), commands.RemoveProjectMember{ProjectID: "p1", Member: cy, Role: events.RoleOwner}); err != nil {
		t.Fatalf("removing the held role: %v", err)
	}
}
