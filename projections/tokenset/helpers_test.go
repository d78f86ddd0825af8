package tokenset_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// t0 is the time of sequence 0; event n happens n seconds later.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var alice = events.Actor{Kind: events.ActorUser, ID: "7", Name: "alice"}

// at is the Time of the event with sequence seq, as built by ev.
func at(seq uint64) time.Time { return t0.Add(time.Duration(seq) * time.Second) }

// ev wraps p in a stored envelope for aggregate id at stream sequence seq.
func ev(tb testing.TB, seq uint64, id string, p events.Payload) events.Envelope {
	tb.Helper()
	env, err := events.New(fmt.Sprintf("01EV%022d", seq), id, p, at(seq))
	if err != nil {
		tb.Fatal(err)
	}
	env.Sequence = seq
	env.Actor = alice
	env.Via = events.Via{CredentialID: "pat-1", CredentialType: events.TokenPersonal, RequestID: fmt.Sprint("req-", seq)}
	return env
}

// raw is an envelope with a hand-made type and payload.
func raw(seq uint64, kind, id, typ, data string) events.Envelope {
	return events.Envelope{
		ID: fmt.Sprintf("01RAW%021d", seq), Type: typ, Version: 1, AggregateKind: kind,
		AggregateID: id, Time: at(seq), Actor: events.System, Data: json.RawMessage(data), Sequence: seq,
	}
}

// secret is a generated-shape secret for project p and environment env.
func secret(p, env string, n int) string {
	return fmt.Sprintf("%s:%s.%064x", p, env, n)
}

// created is a client token.created for secret, scoped to projects.
func created(sec string, projects ...string) events.TokenCreated {
	return events.TokenCreated{
		TokenType:   events.TokenClient,
		Name:        "sdk",
		Environment: "development",
		Projects:    projects,
		Path:        events.PathAdminAPI,
		Verifier:    events.VerifierHex(sec),
		Hint:        hint(sec),
	}
}

// hint is the display hint of a secret: a prefix and the last 4 characters.
func hint(sec string) string {
	if len(sec) < 8 {
		return "…"
	}
	return sec[:4] + "…" + sec[len(sec)-4:]
}

func ptr[T any](v T) *T { return &v }

// mustApply applies evs in order and fails the test on the first error.
func mustApply(tb testing.TB, s *tokenset.Set, evs ...events.Envelope) {
	tb.Helper()
	for _, e := range evs {
		if err := s.Apply(e); err != nil {
			tb.Fatalf("apply seq %d: %v", e.Sequence, err)
		}
	}
}

// newSet is a Set fed evs.
func newSet(tb testing.TB, evs ...events.Envelope) *tokenset.Set {
	tb.Helper()
	s := tokenset.New()
	mustApply(tb, s, evs...)
	return s
}

func ids(ts []tokenset.Token) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}
