package events_test

import (
	"testing"

	"github.com/tokenledger/tokenledger/events"
)

func TestStoredUnderAcceptsOnlyTheEventsOwnSubject(t *testing.T) {
	env := events.Envelope{Type: events.TypeTokenRevoked, AggregateKind: events.KindToken, AggregateID: "0193a5b2-0000-7000-8000-000000000001"}
	own := env.Subject()
	for _, tt := range []struct {
		subject string
		want    bool
	}{
		{own, true},
		{"ledger.token.0193a5b2-0000-7000-8000-0000000000ee.revoked", false}, // another token
		{"ledger.log.moved.revoked", false},
		{"ledger.token.0193a5b2-0000-7000-8000-000000000001.created", false},
		{"ledgers.token.0193a5b2-0000-7000-8000-000000000001.revoked", false},
		{"ledger.token.0193a5b2-0000-7000-8000-000000000001.revoke", false},
		{"ledger.token.0193a5b2-0000-7000-8000-000000000001.revokedx", false},
		{"ledger.token.0193a5b2-0000-7000-8000-000000000001xrevoked", false},
		{"ledger.token", false},
		{"", false},
	} {
		if got := env.StoredUnder(tt.subject); got != tt.want {
			t.Errorf("StoredUnder(%q) = %v, want %v (own subject %s)", tt.subject, got, tt.want, own)
		}
	}
}

func TestStoredUnderMatchesSubjectForEveryRegisteredType(t *testing.T) {
	for _, typ := range []string{events.TypeTokenCreated, events.TypeTokenExpiryChanged, events.TypeCheckpoint, events.TypeKeyRotated, events.TypeNameClaimed} {
		env := events.Envelope{Type: typ, AggregateKind: "k", AggregateID: "id-1"}
		if !env.StoredUnder(env.Subject()) {
			t.Errorf("%s: not stored under its own subject %s", typ, env.Subject())
		}
	}
}
