package commands

import (
	"crypto/rand"
	"io"
	"sync"
	"time"

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
	// Head is the stream sequence of the command's own event on its
	// aggregate (the first of its atomic batch; for a replay, the first
	// attempt's), ≤ Seq; 0 when the command does not report it.
	Head uint64
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
	// StateCache is how many folded aggregate states the handler keeps
	// between commands (least recently used go first), so a command reads
	// only the events its aggregate got since; 0: DefaultStateCache,
	// negative: none. StateCacheCommandIDs bounds the command ids those
	// states remember together, which is what grows with history; 0:
	// DefaultStateCacheCommandIDs.
	StateCache           int
	StateCacheCommandIDs int
	// SealKey, when set, is the ID of the key the store signs appended
	// events with (read at every command; "" when it does not sign): events
	// are sealed for it ([events.Envelope.SealFor]), so that the store's
	// signature does not hash them again.
	SealKey func() string
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
	states     *stateCache // nil: none
	sealKey    func() string

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
	if cfg.StateCache == 0 {
		cfg.StateCache = DefaultStateCache
	}
	if cfg.StateCacheCommandIDs <= 0 {
		cfg.StateCacheCommandIDs = DefaultStateCacheCommandIDs
	}
	return &Handler{store: store, now: cfg.Now, rand: cfg.Rand, cat: cfg.Catalogue, tokens: cfg.Tokens,
		maxAccount: cfg.MaxAccountTokens, states: newStateCache(cfg.StateCache, cfg.StateCacheCommandIDs),
		sealKey: cfg.SealKey, entropy: ulid.Monotonic(cfg.Rand, 0)}
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
	key := ""
	if h.sealKey != nil {
		key = h.sealKey()
	}
	if err := env.SealFor(key); err != nil {
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
