package feed_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/feed"
)

// Event.Envelope gives the projections the event with its ledger sequence,
// and refuses what is not a token event on its own subject.
func TestEventEnvelopeRefusesWhatIsNotATokenEventOnItsSubject(t *testing.T) {
	env, err := events.New("01J00000000000000000000000", "0193a1b2-0000-7000-8000-000000000001", events.TokenRevoked{Reason: events.ReasonRotated}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(feed.NewEnvelope(&env))
	if err != nil {
		t.Fatal(err)
	}
	user, _ := json.Marshal(feed.Envelope{ID: "x", Type: "user.created", Version: 1, AggregateKind: events.KindUser, AggregateID: "7", Data: json.RawMessage(`{}`)})
	cases := []struct {
		name string
		ev   feed.Event
		ok   bool
	}{
		{"a token event", feed.Event{Sequence: 1, LedgerSequence: 9, Subject: env.Subject(), Data: data}, true},
		{"no ledger sequence", feed.Event{Sequence: 1, Subject: env.Subject(), Data: data}, false},
		{"another token's subject", feed.Event{Sequence: 1, LedgerSequence: 9, Subject: "ledger.token.other.revoked", Data: data}, false},
		{"another event name", feed.Event{Sequence: 1, LedgerSequence: 9, Subject: "ledger.token." + env.AggregateID + ".created", Data: data}, false},
		{"a user event", feed.Event{Sequence: 1, LedgerSequence: 9, Subject: "ledger.user.7.created", Data: user}, false},
		{"not JSON", feed.Event{Sequence: 1, LedgerSequence: 9, Subject: env.Subject(), Data: []byte("{")}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.ev.Envelope()
			if !tc.ok {
				if !errors.Is(err, feed.ErrMalformed) {
					t.Fatalf("Envelope = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil || got.Sequence != 9 || got.AggregateID != env.AggregateID {
				t.Fatalf("Envelope = %+v, %v", got, err)
			}
			if p, err := got.Payload(); err != nil || p.(events.TokenRevoked).Reason != events.ReasonRotated {
				t.Fatalf("payload %v, %v", p, err)
			}
		})
	}
}
