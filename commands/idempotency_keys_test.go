package commands_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
)

// Found by the review of unique-name claims and idempotency keys; each
// test failed before its fix and now guards it.

// interleave is an EventStore whose first Append first runs before: a
// deterministic stand-in for a concurrent request that loaded the same
// state and appended in between this command's load and its append.
type interleave struct {
	commands.EventStore
	once   sync.Once
	before func()
}

func (s *interleave) Append(ctx context.Context, batch ...commands.Append) (commands.Stored, error) {
	s.once.Do(s.before)
	return s.EventStore.Append(ctx, batch...)
}

func keyed(cmd, key string) commands.Meta {
	m := meta(cmd)
	m.Key = key
	return m
}

// Two identical requests (same Idempotency-Key, same body: same command id
// and token id) in flight at once, e.g. a client retrying after a timeout
// while the first is still being appended. The second's batch is found as
// "already stored" by the store (same msg ids) and CreateToken reports it
// as a fresh create, with the secret the second attempt generated, which
// was never stored: the client is handed a secret that does not verify.
func TestKeys_ConcurrentIdenticalCreatesNeverHandOutAnUnstoredSecret(t *testing.T) {
	l := newLedger(t)
	m := keyed("idem-k1-body", "k1")
	c := commands.CreateToken{TokenID: "tok-race", Type: events.TokenBackend, Name: "race",
		Environment: "development", Projects: []string{"default"}, Path: events.PathAdminAPI}
	var first commands.Created
	var firstErr error
	st := &interleave{EventStore: l.store, before: func() { first, firstErr = l.h.CreateToken(l.ctx, m, c) }}
	second, err := newTestHandler(st).CreateToken(l.ctx, m, c)
	if firstErr != nil {
		t.Fatalf("first attempt: %v", firstErr)
	}
	evs := l.load(events.KindToken, "tok-race")
	p, _ := evs[0].Payload()
	stored := p.(events.TokenCreated).Verifier
	if first.Secret.Verifier() != stored {
		t.Fatalf("the first attempt's secret does not verify")
	}
	if err == nil && !second.Replayed && second.Secret.Verifier() != stored {
		t.Fatalf("the concurrent identical attempt answered a fresh create (Replayed=false) with a secret that was never stored (len(events)=%d)", len(evs))
	}
}

// Two requests with one Idempotency-Key but different bodies, at once: the
// loser's batch conflicts on the key's claim, and the caller is told
// "already exists" (409) instead of ErrKeyReused (422).
func TestKeys_ConcurrentSameKeyOtherBodyIsKeyReused(t *testing.T) {
	l := newLedger(t)
	st := &interleave{EventStore: l.store, before: func() {
		if _, _, err := l.h.CreateUser(l.ctx, keyed("idem-k2-a", "k2"), commands.CreateUser{UserID: "user-a", Username: "alpha", RootRole: "Viewer"}); err != nil {
			t.Errorf("first: %v", err)
		}
	}}
	_, _, err := newTestHandler(st).CreateUser(l.ctx, keyed("idem-k2-b", "k2"), commands.CreateUser{UserID: "user-b", Username: "beta", RootRole: "Viewer"})
	if !errors.Is(err, commands.ErrKeyReused) {
		t.Fatalf("same key, another body, concurrently: %v, want ErrKeyReused", err)
	}
}

// A replay must report the sequence the first attempt reported (the
// handler itself says so for name claims: "so a replay waits for what the
// first attempt waited for"). The key's claim is appended after the head
// event, and a replay reports the head event's sequence.
func TestKeys_ReplayReportsTheFirstAttemptsLastSequence(t *testing.T) {
	l := newLedger(t)
	id := l.token(commands.CreateToken{Type: events.TokenBackend, Projects: []string{"default"}})
	exp := now.Add(48 * time.Hour)
	cases := []struct {
		name string
		run  func(m commands.Meta) (commands.Result, error)
	}{
		{"change_expiry", func(m commands.Meta) (commands.Result, error) {
			return l.h.ChangeExpiry(l.ctx, m, commands.ChangeExpiry{TokenID: id, ExpiresAt: &exp})
		}},
		{"create_project", func(m commands.Meta) (commands.Result, error) {
			return l.h.CreateProject(l.ctx, m, commands.CreateProject{ProjectID: "review2"})
		}},
		{"create_token", func(m commands.Meta) (commands.Result, error) {
			c, err := l.h.CreateToken(l.ctx, m, commands.CreateToken{TokenID: "tok-seq", Type: events.TokenBackend, Name: "seq",
				Environment: "development", Projects: []string{"default"}, Path: events.PathAdminAPI})
			return c.Result, err
		}},
		{"update_role", func(m commands.Meta) (commands.Result, error) {
			return l.h.UpdateRole(l.ctx, m, commands.UpdateRole{RoleID: "role-seq", Name: "seq role"})
		}},
	}
	if _, _, err := l.h.CreateRole(l.ctx, meta(""), commands.CreateRole{RoleID: "role-seq", Name: "seq role", Type: events.RoleTypeRoot}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := keyed("idem-"+tc.name, "key-"+tc.name)
			first, err := tc.run(m)
			if err != nil {
				t.Fatal(err)
			}
			again, err := tc.run(m)
			if err != nil || !again.Replayed {
				t.Fatalf("replay: %+v, %v", again, err)
			}
			if again.Seq != first.Seq {
				t.Fatalf("replay reports sequence %d, the first attempt reported %d", again.Seq, first.Seq)
			}
		})
	}
}

// A user whose username and e-mail are one name under the claims' folding
// gets two name.claimed events on one name aggregate in one batch, both
// chained to the same Prev (and only the first carries an expectation):
// the name aggregate's hash chain is broken.
func TestKeys_UsernameEqualToEmailIsOneClaim(t *testing.T) {
	l := newLedger(t)
	if _, _, err := l.h.CreateUser(l.ctx, meta("c-ann"), commands.CreateUser{UserID: "u-ann", Username: "ann@example.com",
		Email: "Ann@Example.com", RootRole: "Viewer"}); err != nil {
		t.Fatalf("create: %v", err)
	}
	evs, err := l.store.Load(l.ctx, events.KindName, events.NameID(events.ScopeUsername, "ann@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if err := events.VerifyChain(evs); err != nil {
		t.Fatalf("name aggregate after create holds %d events, chain broken: %v", len(evs), err)
	}
}

// A role renamed to a name that strings.EqualFold takes for the same
// (sameName) but that the claims' folding (strings.ToLower) does not:
// the rename claims nothing and releases nothing. The role then holds the
// old name's claim for ever (released by nothing, not even its deletion),
// and its new name is unclaimed, so another role can take it.
func TestKeys_RenameComparesNamesAsClaimsFoldThem(t *testing.T) {
	l := newLedger(t)
	if _, _, err := l.h.CreateRole(l.ctx, meta("c1"), commands.CreateRole{RoleID: "r1", Name: "Roles", Type: events.RoleTypeRoot}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.h.UpdateRole(l.ctx, meta("c2"), commands.UpdateRole{RoleID: "r1", Name: "Roleſ"}); err != nil {
		t.Fatal(err)
	}
	_, _, dupErr := l.h.CreateRole(l.ctx, meta("c3"), commands.CreateRole{RoleID: "r2", Name: "Roleſ", Type: events.RoleTypeRoot})
	if _, err := l.h.DeleteRole(l.ctx, meta("c4"), "r1"); err != nil {
		t.Fatal(err)
	}
	_, _, err := l.h.CreateRole(l.ctx, meta("c5"), commands.CreateRole{RoleID: "r3", Name: "Roles", Type: events.RoleTypeRoot})
	if dupErr == nil || err != nil {
		t.Fatalf("second role named \"Roleſ\" created: %v (want taken); after deleting the renamed role, \"Roles\" is: %v (want free)", dupErr == nil, err)
	}
}
