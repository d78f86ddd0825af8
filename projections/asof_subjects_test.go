package projections_test

import (
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/storetest"
	"github.com/tokenledger/tokenledger/projections"
)

// AsOf reads only the token set's subjects, and the set it builds equals
// one fed every event, at every sequence: tokens orphaned by a project,
// environment or owner deleted, an environment created again, and events
// the set passes over (principals, audit records) between them.
func TestAsOfOnTheTokenSubjectsEqualsAFullReplayAtEverySequence(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	l := newLedger(t)
	owner := storetest.NewAggregateID()
	l.append(owner, events.UserCreated{Username: "ann", Email: "ann@example.com", RootRole: events.RoleAdmin})
	a, _ := l.token("alpha")
	l.token("beta")
	l.append(storetest.NewAggregateID(), events.AuditQueried{Route: "GET /api/ledger/events", Outcome: events.AuditAllowed})
	l.append(storetest.NewAggregateID(), events.TokenCreated{TokenType: events.TokenPersonal, Name: "pat",
		Owner: &events.Owner{Kind: events.ActorUser, ID: owner}, Environment: "*", AllProjects: true, Path: events.PathPAT,
		Verifier: events.VerifierHex("user:pat-secret-0001"), Hint: "user…0001"})
	l.append("alpha", events.ProjectDeleted{})
	l.append(a, events.TokenRevoked{Reason: events.ReasonProjectDeleted})
	l.append(owner, events.UserDeleted{})
	l.append("development", events.EnvironmentDeleted{})
	l.append(storetest.NewAggregateID(), events.AuditQueried{Route: "GET /api/ledger/state", Outcome: events.AuditDenied})
	l.append("development", events.EnvironmentCreated{Type: "development"})
	l.token("gamma")
	for seq := uint64(1); seq <= uint64(len(l.sent))+1; seq++ {
		s, err := projections.AsOf(ctx, l.store, seq)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := s.Digest(), digestOf(t, l.sent[:min(int(seq), len(l.sent))]); got != want {
			t.Errorf("AsOf(%d) differs from a set fed every event up to it", seq)
		}
	}
	// The last event is a token's: beyond it, the set ends there.
	s, err := projections.AsOf(ctx, l.store, 1000)
	if err != nil || s.LastApplied() != uint64(len(l.sent)) {
		t.Errorf("AsOf beyond the stream: last applied %d, want %d (%v)", s.LastApplied(), len(l.sent), err)
	}
}
