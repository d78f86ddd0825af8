package verifier_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/feedtest"
	"github.com/tokenledger/tokenledger/internal/storetest"
	"github.com/tokenledger/tokenledger/projections/verifier"
)

// A verifier rejects a token from the ledger sequence at which its
// project (the last it lists), environment or owner was deleted, as the
// ledger's own token set does: the feed carries those deletions, so the
// verifier does not wait for the token.revoked the ledger records later.
// OnRevoke reports the token once, at the deletion; the later
// token.revoked is not reported again. A token created after the deletion
// (a create that raced it) never verifies; a token that keeps another
// project still does.
func TestVerifierRejectsTokenOnceWhatItActsForIsDeleted(t *testing.T) {
	cases := []struct {
		name    string
		reason  string
		deleted events.Payload
		// scope makes a token act for the deleted aggregate id.
		scope func(p *events.TokenCreated, id string)
	}{
		{"project", events.ReasonProjectDeleted, events.ProjectDeleted{},
			func(p *events.TokenCreated, id string) { p.Projects = []string{id} }},
		{"environment", events.ReasonEnvironmentDeleted, events.EnvironmentDeleted{},
			func(p *events.TokenCreated, id string) { p.Environment = id }},
		{"user", events.ReasonOwnerDeleted, events.UserDeleted{},
			func(p *events.TokenCreated, id string) {
				p.TokenType, p.Environment, p.Projects, p.AllProjects = events.TokenPersonal, "", nil, true
				p.Owner = &events.Owner{Kind: events.ActorUser, ID: id}
			}},
		{"service account", events.ReasonOwnerDeleted, events.ServiceAccountDeleted{},
			func(p *events.TokenCreated, id string) {
				p.TokenType, p.Environment, p.Projects, p.AllProjects = events.TokenServiceAccount, "", nil, true
				p.Owner = &events.Owner{Kind: events.ActorServiceAccount, ID: id}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := feedtest.Start(t)
			gone := "gone-" + storetest.NewAggregateID()[:8]
			secret := func(n string) string { return "default:production.deletion-test-" + n + "-0123456789abcdef" }
			victim := l.CreateWith(t, secret("victim"), func(p *events.TokenCreated) { tc.scope(p, gone) })
			// Unaffected: another project besides the deleted one, or
			// nothing to do with it.
			other := l.CreateWith(t, secret("other"), func(p *events.TokenCreated) {
				if tc.name == "project" {
					p.Projects = []string{gone, "default"}
				}
			})
			revoked := make(chan verifier.Change, 4)
			v := connect(t, l, verifier.Config{OnRevoke: func(c verifier.Change) { revoked <- c }})
			waitApplied(t, v, other.Last)
			if _, err := v.Verify(victim.Secret); err != nil {
				t.Fatalf("before the deletion: Verify = %v", err)
			}

			del := l.Delete(t, gone, tc.deleted)
			if err := v.WaitFor(ctxFor(t), del); err != nil {
				t.Fatalf("the deletion at ledger sequence %d did not reach the verifier: %v", del, err)
			}
			if _, err := v.Verify(victim.Secret); !errors.Is(err, verifier.ErrRevoked) {
				t.Fatalf("right after the deletion: Verify = %v, want ErrRevoked", err)
			}
			if tok, err := v.Verify(other.Secret); err != nil || tok.ID != other.ID {
				t.Fatalf("a token not acting only for what was deleted: Verify = %v, %v", tok, err)
			}
			select {
			case c := <-revoked:
				got := fmt.Sprintf("%s %s %s %d %v", c.Type, c.Token.ID, c.Reason, c.LedgerSequence, c.Replayed)
				want := fmt.Sprintf("%s %s %s %d false", tc.deleted.EventType(), victim.ID, tc.reason, del)
				if got != want {
					t.Fatalf("OnRevoke saw %q, want %q", got, want)
				}
			default:
				t.Fatal("OnRevoke was not called for the orphaned token")
			}

			// The ledger's own record of the revocation, and a create
			// that raced the deletion.
			rec := l.Append(t, victim, events.TokenRevoked{Reason: tc.reason})
			late := l.CreateWith(t, secret("late"), func(p *events.TokenCreated) { tc.scope(p, gone) })
			waitApplied(t, v, late.Last)
			if _, err := v.Verify(late.Secret); !errors.Is(err, verifier.ErrRevoked) {
				t.Fatalf("a token created after the deletion: Verify = %v, want ErrRevoked", err)
			}
			if _, err := v.Verify(victim.Secret); !errors.Is(err, verifier.ErrRevoked) {
				t.Fatalf("after its token.revoked: Verify = %v, want ErrRevoked", err)
			}
			select {
			case c := <-revoked:
				t.Fatalf("OnRevoke called again (%s at %d) after the token.revoked at %d", c.Type, c.LedgerSequence, rec)
			default:
			}
		})
	}
}
