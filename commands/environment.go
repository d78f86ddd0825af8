package commands

import (
	"context"
	"fmt"
	"slices"

	"github.com/tokenledger/tokenledger/events"
)

// Environment types of the predefined environments. Other types are
// accepted (Unleash's UI also offers test and preproduction).
const (
	EnvTypeDevelopment = "development"
	EnvTypeProduction  = "production"
)

// CreateEnvironment asks for an environment.
type CreateEnvironment struct {
	Name string // 1–100 of A–Z a–z 0–9 _ -; the aggregate id
	Type string // optional, same character set, e.g. development, production
}

// UpdateEnvironment changes an environment's type (Unleash's PUT
// /api/admin/environments/update/{name}).
type UpdateEnvironment struct {
	Name string
	Type string // required, same character set as names
}

// DeleteEnvironment asks for an environment's removal.
type DeleteEnvironment struct {
	Name string
	// Others names the other environments the caller knows of. The handler
	// re-reads them from the stream and refuses the deletion unless at
	// least one of them is live: the last environment is never deleted.
	Others []string
	// Tokens are the ids of the environment's live tokens as a read model
	// knows them; each one still scoped to the environment is revoked
	// (reason environment-deleted) in the same atomic append. Revoked,
	// unknown and other environments' tokens are skipped.
	Tokens []string
}

// DecideCreateEnvironment validates an environment and returns the
// environment.created payload. A deleted environment's name is not reused
// (ErrExists, wrapped): a token a read model missed when the environment
// was deleted must not become valid in a new environment of that name.
func DecideCreateEnvironment(s EnvironmentState, c CreateEnvironment) (events.EnvironmentCreated, error) {
	if s.Deleted {
		return events.EnvironmentCreated{}, fmt.Errorf("%w: an environment of that name was deleted, and deleted names are not reused", ErrExists)
	}
	if s.Exists {
		return events.EnvironmentCreated{}, ErrExists
	}
	if err := checkID("name", c.Name); err != nil {
		return events.EnvironmentCreated{}, err
	}
	if c.Type != "" {
		if err := checkID("type", c.Type); err != nil {
			return events.EnvironmentCreated{}, err
		}
	}
	return events.EnvironmentCreated{Type: c.Type}, nil
}

// DecideUpdateEnvironment returns the environment.updated payload. It
// returns ErrNotFound (wrapped when deleted) for an environment that is not
// live and a ValidationError on "type" for a missing or malformed type. The
// type the environment already has is accepted and recorded.
func DecideUpdateEnvironment(s EnvironmentState, c UpdateEnvironment) (events.EnvironmentUpdated, error) {
	if err := liveAggregate(events.KindEnvironment, s.AggregateState); err != nil {
		return events.EnvironmentUpdated{}, err
	}
	if c.Type == "" {
		return events.EnvironmentUpdated{}, invalid("type", "is required")
	}
	if err := checkID("type", c.Type); err != nil {
		return events.EnvironmentUpdated{}, err
	}
	return events.EnvironmentUpdated{Type: c.Type}, nil
}

// DecideDeleteEnvironment returns the environment.deleted payload.
// otherLive tells whether another environment is live. It returns
// ErrNotFound (wrapped when deleted) for an environment that is not live,
// and an error wrapping ErrInvalidOperation when it is the last one: client,
// backend and frontend tokens are each scoped to one environment, so at
// least one must remain.
func DecideDeleteEnvironment(s EnvironmentState, otherLive bool) (events.EnvironmentDeleted, error) {
	if err := liveAggregate(events.KindEnvironment, s.AggregateState); err != nil {
		return events.EnvironmentDeleted{}, err
	}
	if !otherLive {
		return events.EnvironmentDeleted{}, &OperationError{"You can not delete the last environment: every client, backend and frontend token needs one. Create another environment first"}
	}
	return events.EnvironmentDeleted{}, nil
}

// DecideEnvironmentDeletedToken decides what deleting environment env does
// to one token: token.revoked with reason environment-deleted for a token
// scoped to env that is not revoked yet (expired ones included); nil (skip)
// for a revoked or unknown token or one of another environment. Admin
// tokens ("*") and personal and service-account tokens (no environment)
// are never scoped to a single environment and are always skipped.
func DecideEnvironmentDeletedToken(t TokenState, env string) (events.Payload, error) {
	if !t.Exists || t.Revoked || t.Environment != env || env == AllEnvironments {
		return nil, nil
	}
	return DecideRevoke(t, RevokeToken{TokenID: t.ID, Reason: events.ReasonEnvironmentDeleted})
}

// CreateEnvironment creates an environment. Returns ErrExists when the name
// is taken or was used by a deleted environment, a ValidationError for a
// bad field.
func (h *Handler) CreateEnvironment(ctx context.Context, m Meta, c CreateEnvironment) (Result, error) {
	return onAggregate(ctx, h, m, events.KindEnvironment, c.Name, true, FoldEnvironment, withCommand(DecideCreateEnvironment, c))
}

// UpdateEnvironment changes an environment's type with one
// environment.updated event. Returns ErrNotFound for an unknown or deleted
// environment, a ValidationError for a bad type.
func (h *Handler) UpdateEnvironment(ctx context.Context, m Meta, c UpdateEnvironment) (Result, error) {
	return onAggregate(ctx, h, m, events.KindEnvironment, c.Name, false, FoldEnvironment, withCommand(DecideUpdateEnvironment, c))
}

// DeleteEnvironment deletes an environment and, in the same atomic append,
// revokes every token of c.Tokens (and of the token index) still scoped to
// it (token.revoked, reason environment-deleted); see [DeleteEnvironment]
// for the fields. A concurrent change to the environment or to any of the
// tokens yields ErrConflict and nothing is stored. A replayed command id
// appends nothing and reports the sequence of the first attempt's last
// event (pass the same tokens). Returns ErrNotFound for an unknown or
// deleted environment and ErrInvalidOperation (wrapped) when no other
// environment is live in the stream.
//
// "Not the last environment" is a rule about the set of environments, so
// the deletion's append expects the last sequence of any environment event
// (ledger.environment.>) to be the newest one it read: of concurrent
// deletions exactly one is stored, and each other one decides again on
// fresh state (the last environment: ErrInvalidOperation; otherwise
// ErrConflict). Environment events are rare, so the coarse guard costs
// nothing.
func (h *Handler) DeleteEnvironment(ctx context.Context, m Meta, c DeleteEnvironment) (Result, error) {
	if h.cat != nil {
		c.Others = append(slices.Clone(c.Others), h.cat.Environments()...)
	}
	if h.tokens != nil {
		c.Tokens = append(slices.Clone(c.Tokens), h.tokens.EnvironmentTokens(c.Name)...)
	}
	return onCascade(ctx, h, m, events.KindEnvironment, c.Name, cascade[EnvironmentState]{
		read: func(ctx context.Context) (EnvironmentState, expectation, error) {
			return h.loadEnvironments(ctx, c.Name)
		},
		decide: func(ctx context.Context, s EnvironmentState, wide *expectation) (events.Payload, error) {
			return h.decideDeleteEnvironment(ctx, s, wide, c)
		},
		tokens: c.Tokens,
		token: func(t TokenState) (events.Payload, error) {
			return DecideEnvironmentDeletedToken(t, c.Name)
		},
	})
}

// loadEnvironments returns the state of environment name and the
// expectation over all environment events: the newest sequence on
// ledger.environment.>, read before any state, so that any environment
// event stored after the states were read makes the append conflict.
func (h *Handler) loadEnvironments(ctx context.Context, name string) (EnvironmentState, expectation, error) {
	wide := expectation{filter: events.SubjectPrefix + "." + events.KindEnvironment + ".>"}
	if fs, ok := h.store.(FilterSequencer); ok {
		seq, err := fs.LastSequenceOn(ctx, wide.filter)
		if err != nil {
			return EnvironmentState{}, wide, err
		}
		wide.seq = seq
	}
	s, err := load(ctx, h, events.KindEnvironment, name, FoldEnvironment)
	wide.seq = max(wide.seq, s.Version)
	return s, wide, err
}

// decideDeleteEnvironment decides the deletion of the environment whose
// state is s, reading the other environments c names from the stream. A
// store without FilterSequencer leaves wide at the newest sequence among
// the environments read: one the caller did not name that changed later
// makes the append conflict (fail closed).
func (h *Handler) decideDeleteEnvironment(ctx context.Context, s EnvironmentState, wide *expectation, c DeleteEnvironment) (events.EnvironmentDeleted, error) {
	if err := liveAggregate(events.KindEnvironment, s.AggregateState); err != nil {
		return events.EnvironmentDeleted{}, err
	}
	otherLive := false
	seen := map[string]bool{c.Name: true}
	for _, n := range c.Others {
		if seen[n] {
			continue
		}
		seen[n] = true
		o, err := load(ctx, h, events.KindEnvironment, n, FoldEnvironment)
		if err != nil {
			return events.EnvironmentDeleted{}, err
		}
		otherLive = otherLive || o.Live()
		wide.seq = max(wide.seq, o.Version)
	}
	return DecideDeleteEnvironment(s, otherLive)
}
