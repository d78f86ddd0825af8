package commands

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/oklog/ulid/v2"

	"github.com/tokenledger/tokenledger/events"
)

// Meta is what every command carries besides its own fields: who asks,
// through which credential, and an id that makes a retry harmless.
type Meta struct {
	// CommandID identifies the command. A retried command with the same id
	// appends nothing new and reports the first outcome. Empty: the handler
	// generates one (the command is then not retryable by id).
	CommandID string
	// Key, when set, is the client's idempotency key (namespaced and
	// hashed by the caller). The command claims it in the same atomic
	// append; a later command with the same Key but another CommandID is
	// refused with ErrKeyReused.
	Key    string
	Actor  events.Actor
	Via    events.Via
	Reason string
}

// Result is the outcome of a command that appended (or had appended) an
// event: the stream sequence to wait for to read one's own write.
type Result struct {
	Seq uint64
	// Replayed is true when the command id had been carried out before and
	// nothing new was appended.
	Replayed bool
}

// Config holds the handler's dependencies that tests replace. The zero value
// uses the wall clock and crypto/rand.
type Config struct {
	Now  func() time.Time
	Rand io.Reader
	// Catalogue and Tokens are the read ports rules consult (see
	// ports.go); nil: none.
	Catalogue Catalogue
	Tokens    TokenIndex
	// MaxAccountTokens is how many live personal or service-account tokens
	// one owner may hold (Unleash's PAT limit); 0: DefaultMaxAccountTokens.
	MaxAccountTokens int
}

// DefaultMaxAccountTokens is Unleash's PAT limit.
const DefaultMaxAccountTokens = 10

// Handler carries out commands: it loads the aggregate from the store,
// decides with the pure Decide functions, and appends the resulting event
// with the aggregate's last sequence as expectation. It is safe for
// concurrent use; two commands racing on one aggregate yield one success
// and one ErrConflict.
type Handler struct {
	store      EventStore
	now        func() time.Time
	rand       io.Reader
	cat        Catalogue
	tokens     TokenIndex
	maxAccount int

	mu      sync.Mutex // guards entropy
	entropy *ulid.MonotonicEntropy
}

// NewHandler returns a Handler appending to store. It panics on a nil store:
// a wiring mistake should fail at start-up.
func NewHandler(store EventStore, cfg Config) *Handler {
	if store == nil {
		panic("commands: nil event store")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.MaxAccountTokens <= 0 {
		cfg.MaxAccountTokens = DefaultMaxAccountTokens
	}
	return &Handler{store: store, now: cfg.Now, rand: cfg.Rand, cat: cfg.Catalogue, tokens: cfg.Tokens,
		maxAccount: cfg.MaxAccountTokens, entropy: ulid.Monotonic(cfg.Rand, 0)}
}

// MaxAccountTokens is how many live personal or service-account tokens one
// owner may hold.
func (h *Handler) MaxAccountTokens() int { return h.maxAccount }

// Now is the handler's clock.
func (h *Handler) Now() time.Time { return h.now().UTC() }

func (h *Handler) newULID(t time.Time) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return ulid.MustNew(ulid.Timestamp(t), h.entropy).String()
}

// envelope wraps a decided payload into a sealed event of aggregate id,
// chained to prev.
func (h *Handler) envelope(m Meta, id string, p events.Payload, prev string, now time.Time) (events.Envelope, error) {
	env, err := events.New(h.newULID(now), id, p, now)
	if err != nil {
		return events.Envelope{}, err
	}
	env.CommandID = m.CommandID
	env.Actor = m.Actor
	env.Via = m.Via
	env.Reason = m.Reason
	env.Prev = prev
	if err := env.Seal(); err != nil {
		return events.Envelope{}, err
	}
	return env, nil
}

func (h *Handler) withCommandID(m Meta) Meta {
	if m.CommandID == "" {
		m.CommandID = h.newULID(h.now())
	}
	return m
}

// loadToken loads and folds one token (the zero state for an id that
// cannot name one).
func (h *Handler) loadToken(ctx context.Context, id string) (TokenState, error) {
	return load(ctx, h, events.KindToken, id, FoldToken)
}

// onToken runs one command against one token aggregate: the common
// pipeline (onAggregateNames), whose name releases are a revoked account
// token's description and slot.
func (h *Handler) onToken(ctx context.Context, m Meta, id string, decide func(TokenState, time.Time) (events.Payload, error)) (Result, error) {
	return onAggregateNames(ctx, h, m, events.KindToken, id, false, FoldToken, decide, h.tokenNameOps)
}

// Created is the outcome of CreateToken.
type Created struct {
	Result
	TokenID string
	// CreatedSeq is the stream sequence of the token.created event (the
	// first of its batch): a personal access token's integer id.
	CreatedSeq uint64
	// At is the event's time.
	At time.Time
	// Secret is the full secret, to be shown once. It is zero when the
	// command was replayed: the secret was shown the first time and is not
	// kept anywhere.
	Secret Secret
	Token  events.TokenCreated
}

// CreateToken issues a token. With a pre-chosen c.Secret (bootstrap) the
// secret is taken as is and its hint shows none of its characters;
// otherwise one of Unleash's shape is generated.
//
// The rules of account tokens hold in the stream (see accountClaims): at
// most MaxAccountTokens live ones per owner, and a personal token issued on
// behalf of a user only as that user's first. A conflict is re-decided on
// fresh state, a bounded number of times: a slot or first-token claim taken
// by a concurrent create makes this one take the next free slot or be
// refused.
func (h *Handler) CreateToken(ctx context.Context, m Meta, c CreateToken) (Created, error) {
	m = h.withCommandID(m)
	if c.TokenID == "" {
		c.TokenID = uuid.Must(uuid.NewV7FromReader(h.rand)).String()
	}
	if !ValidID(c.TokenID) {
		return Created{}, invalid("tokenId", "must be 1 to %d letters, digits, '_' or '-'", MaxIDLen)
	}
	for attempt := 0; ; attempt++ {
		out, err := h.createToken(ctx, m, c)
		if errors.Is(err, errDecideAgain) {
			if attempt < 2*h.maxAccount+2 {
				continue
			}
			return Created{}, fmt.Errorf("create token %s: %w", c.TokenID, ErrConflict)
		}
		return out, err
	}
}

// errDecideAgain: the append conflicted for a reason fresh state may
// resolve (a claim taken meanwhile); decide again.
var errDecideAgain = errors.New("decide again")

func (h *Handler) createToken(ctx context.Context, m Meta, c CreateToken) (Created, error) {
	s, err := h.loadToken(ctx, c.TokenID)
	if err != nil {
		return Created{}, err
	}
	if seq, ok := s.Commands[m.CommandID]; ok && s.Exists {
		last, err := h.keySeq(ctx, m, seq)
		return Created{Result: Result{Seq: last, Replayed: true}, TokenID: c.TokenID, Token: s.Created, CreatedSeq: seq}, err
	}
	if err := h.checkScope(c); err != nil {
		return Created{}, err
	}
	secret, hint := c.Secret, ""
	if secret.IsZero() {
		secret, err = GenerateSecret(h.rand, c.Type, c.Projects, containsAll(c.Projects), c.Environment)
		if err != nil {
			return Created{}, err
		}
		hint = Hint(secret.Reveal())
	} else {
		hint = ForeignHint(secret.Reveal())
	}
	now := h.Now()
	p, err := DecideCreate(s, c, secret.Verifier(), hint, now)
	if err != nil {
		return Created{}, err
	}
	own, key, err := h.head(ctx, m, c.TokenID, p, "", 0, now)
	if err != nil {
		return Created{}, err
	}
	env := own.Event
	holder, ops := events.Owner{Kind: events.KindToken, ID: c.TokenID}, accountTokenName(p.Owner, p.Name, false)
	names, err := h.nameAppends(ctx, m, now, holder, ops)
	if err != nil {
		return Created{}, err
	}
	rules, err := h.accountClaims(ctx, m, now, holder, p)
	if err != nil {
		return Created{}, err
	}
	batch := append(append(append([]Append{own}, names...), rules...), key...)
	msgIDs(m, batch)
	seq, err := h.store.Append(ctx, batch...)
	if errors.Is(err, ErrConflict) {
		if why := h.afterConflict(ctx, m, holder, ops); why != nil {
			return Created{}, why
		}
		fresh, lerr := h.loadToken(ctx, c.TokenID)
		switch {
		case lerr != nil:
			return Created{}, errors.Join(err, lerr)
		case fresh.Exists && fresh.Commands[m.CommandID] != 0:
			return h.createToken(ctx, m, c) // stored by an identical request: its replay
		case fresh.Exists:
			return Created{}, fmt.Errorf("create token %s: %w", c.TokenID, ErrExists)
		}
		return Created{}, errDecideAgain
	}
	if err != nil {
		return Created{}, err
	}
	if ours, err := h.stored(ctx, m, env); err != nil {
		return Created{}, err
	} else if !ours { // an identical request won the race: answer as its replay
		return h.createToken(ctx, m, c)
	}
	// An atomic batch is stored at consecutive sequences, token.created first.
	return Created{Result: Result{Seq: seq}, TokenID: c.TokenID, Secret: secret, Token: p,
		CreatedSeq: seq - uint64(len(batch)-1), At: now}, nil
}

func containsAll(projects []string) bool {
	for _, p := range projects {
		if p == AllProjects {
			return true
		}
	}
	return false
}

// ChangeExpiry sets a token's expiry.
func (h *Handler) ChangeExpiry(ctx context.Context, m Meta, c ChangeExpiry) (Result, error) {
	return h.onToken(ctx, m, c.TokenID, func(s TokenState, _ time.Time) (events.Payload, error) {
		return DecideChangeExpiry(s, c)
	})
}

// ExpireToken records that a token's expiry passed (the scheduler's command).
func (h *Handler) ExpireToken(ctx context.Context, m Meta, tokenID string) (Result, error) {
	return h.onToken(ctx, m, tokenID, func(s TokenState, now time.Time) (events.Payload, error) {
		return DecideExpire(s, now)
	})
}

// RevokeToken revokes a token.
func (h *Handler) RevokeToken(ctx context.Context, m Meta, c RevokeToken) (Result, error) {
	return h.onToken(ctx, m, c.TokenID, func(s TokenState, _ time.Time) (events.Payload, error) {
		return DecideRevoke(s, c)
	})
}

// ScopeToken narrows a token's projects, revoking it when none remain.
func (h *Handler) ScopeToken(ctx context.Context, m Meta, c ScopeToken) (Result, error) {
	return h.onToken(ctx, m, c.TokenID, func(s TokenState, _ time.Time) (events.Payload, error) {
		return DecideScope(s, c)
	})
}
