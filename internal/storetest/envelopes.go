package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/oklog/ulid/v2"
	"github.com/tokenledger/tokenledger/events"
)

// NewAggregateID returns a fresh aggregate id (UUIDv7).
func NewAggregateID() string { return uuid.Must(uuid.NewV7()).String() }

// NewEventID returns a fresh event id (ULID).
func NewEventID() string { return ulid.Make().String() }

// TokenCreated is a realistic token.created payload: a client token for
// two projects with an expiry, a verifier and a display hint. It is never
// a real secret's verifier.
func TokenCreated() events.TokenCreated {
	exp := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	return events.TokenCreated{
		TokenType:   events.TokenClient,
		Name:        "checkout-service",
		Environment: "production",
		Projects:    []string{"default", "checkout"},
		ExpiresAt:   &exp,
		Path:        events.PathAdminAPI,
		Verifier:    events.VerifierHex("storetest:not-a-real-secret"),
		Hint:        "default:production.1a2b…9f0e",
	}
}

// Event returns a sealed envelope of payload p for aggregate id, linked to
// prev (the Hash of the aggregate's previous event; "" for its first),
// with an actor and credential filled in as the command handlers would.
func Event(tb testing.TB, id string, p events.Payload, prev string) events.Envelope {
	tb.Helper()
	env, err := events.New(NewEventID(), id, p, time.Now())
	if err != nil {
		tb.Fatalf("storetest: new %s: %v", p.EventType(), err)
	}
	env.CommandID = NewEventID()
	env.Actor = events.Actor{Kind: events.ActorUser, ID: "42", Name: "Ada"}
	env.Via = events.Via{CredentialID: "pat-7", CredentialType: events.TokenPersonal, RemoteAddr: "127.0.0.1", RequestID: "req-1"}
	env.Prev = prev
	if err := env.Seal(); err != nil {
		tb.Fatalf("storetest: seal: %v", err)
	}
	return env
}
