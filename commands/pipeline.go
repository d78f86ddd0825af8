package commands

// The command pipeline: load and fold an aggregate, recognise a replayed
// command id, decide, seal, add name and idempotency-key claims, append
// with the aggregate's expectation, and explain a conflict by deciding
// again on fresh state.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/tokenledger/tokenledger/events"
)

// head seals a command's own event on aggregate id (chained to prev,
// expecting version) and prepares the claim of its idempotency key, which
// goes last in the batch (see keyClaim).
func (h *Handler) head(ctx context.Context, m Meta, id string, p events.Payload, prev string, version uint64, now time.Time) (Append, []Append, error) {
	env, err := h.envelope(m, id, p, prev, now)
	if err != nil {
		return Append{}, nil, err
	}
	key, err := h.keyClaim(ctx, m, now, events.Owner{Kind: p.AggregateKind(), ID: id})
	if err != nil {
		return Append{}, nil, err
	}
	return Append{Event: env, Expected: version}, key, nil
}

// load reads and folds one aggregate. An id that cannot be a subject token
// names no aggregate: it yields the zero state without touching the store
// (a "*" or "." must never widen the subject filter).
//
// A state in the handler's cache is brought up to date with the events
// stored after it (one Direct Get that usually finds none) and folded onto
// a copy; otherwise all events are loaded and folded with fold (which is
// S{}.more). Either way the result may miss events a lagging replica has
// not applied yet: the append's expectation catches that (ErrConflict),
// and withTokens then drops the cached states of the batch.
func load[S stateful[S]](ctx context.Context, h *Handler, kind, id string, fold func([]events.Envelope) (S, error)) (S, error) {
	var zero S
	if !ValidID(id) {
		return zero, nil
	}
	key := aggregateKey{kind: kind, id: id}
	if c, ok := h.states.get(key); ok {
		if s, ok := c.(S); ok {
			evs, err := h.store.LoadAfter(ctx, kind, id, s.base().Version)
			if err != nil {
				return zero, fmt.Errorf("load %s %s after %d: %w", kind, id, s.base().Version, err)
			}
			if len(evs) == 0 {
				return s, nil
			}
			if s, err = s.more(evs); err != nil {
				h.states.drop(key)
				return zero, fmt.Errorf("load %s %s: %w", kind, id, err)
			}
			h.states.put(key, s, weight(s))
			return s, nil
		}
	}
	evs, err := h.store.Load(ctx, kind, id)
	if err != nil {
		return zero, fmt.Errorf("load %s %s: %w", kind, id, err)
	}
	if fold == nil { // a command that reads through its own read func
		fold = zero.more
	}
	s, err := fold(evs)
	if err != nil {
		return zero, fmt.Errorf("load %s %s: %w", kind, id, err)
	}
	if s.base().Version > 0 { // an absent aggregate is not worth an entry
		h.states.put(key, s, weight(s))
	}
	return s, nil
}

// weight is what a cached state counts for against the cache's bound: the
// command ids it remembers, and itself.
func weight(s folded) int { return s.base().commands.size() + 1 }

// onAggregate runs one command against one aggregate of kind: load and
// fold it, recognise a replayed command id, decide, and append the one
// event with the aggregate's last sequence as expectation. For a create,
// decide rejects an existing aggregate, so the expectation is 0 and a
// conflict means another writer created it first (ErrExists).
func onAggregate[S stateful[S]](ctx context.Context, h *Handler, m Meta, kind, id string, create bool,
	fold func([]events.Envelope) (S, error), decide func(S, time.Time) (events.Payload, error)) (Result, error) {
	return onAggregateNames(ctx, h, m, kind, id, create, fold, decide, nil)
}

// withCommand adapts a decide function of an aggregate's state and a
// command, which needs no clock, to the decide the pipeline takes
// (onAggregate, onAggregateNames, createWithID, onToken).
func withCommand[S, C any, P events.Payload](decide func(S, C) (P, error), c C) func(S, time.Time) (events.Payload, error) {
	return func(s S, _ time.Time) (events.Payload, error) {
		return decide(s, c)
	}
}

// onAggregateNames is onAggregate for commands that also claim or release
// unique names (see nameOp): names, given the state and the decided
// payload (nil for a replay), lists them, and they are appended in the
// same atomic batch.
func onAggregateNames[S stateful[S]](ctx context.Context, h *Handler, m Meta, kind, id string, create bool,
	fold func([]events.Envelope) (S, error), decide func(S, time.Time) (events.Payload, error),
	names func(S, events.Payload) []nameOp) (Result, error) {
	o, err := run(ctx, h, m, command[S]{kind: kind, id: id, create: create, fold: fold, names: names,
		decide: func(_ context.Context, s S, _ *expectation, now time.Time) (events.Payload, error) {
			return decide(s, now)
		}})
	return o.Result, err
}

// command is one command on one aggregate, for run.
type command[S stateful[S]] struct {
	kind, id string
	// create: the command creates the aggregate (decide refuses an
	// existing one), so a conflict means another writer created it first.
	create bool
	// generated: the handler generated the aggregate's id for this command
	// (a fresh UUIDv7), so nothing can be stored under it yet and the first
	// read skips the store (the append still expects the aggregate absent:
	// correctness does not depend on the skipped load). Later reads (a
	// duplicate or a conflict to explain) load.
	generated bool
	fold      func([]events.Envelope) (S, error)
	// read loads the aggregate and the expectation of its append; nil:
	// load it with fold, expecting its own last event.
	read func(context.Context) (S, expectation, error)
	// decide decides the aggregate's own event; it may widen the
	// expectation read returned (the last environment).
	decide func(context.Context, S, *expectation, time.Time) (events.Payload, error)
	// names lists the names the command claims or releases, given the
	// state and the decided payload (nil for a replay); nil: none.
	names func(S, events.Payload) []nameOp
	// tokens are the ids a deletion cascades to (a read model's answer;
	// token decides what happens to each, nil to skip it).
	tokens []string
	token  func(TokenState) (events.Payload, error)
	// claims are further appends that make a rule hold in the stream
	// (account-token slots); nil: none.
	claims func(context.Context, S, events.Payload, time.Time) ([]Append, error)
	// again: a create whose conflict left the aggregate absent is decided
	// again (errDecideAgain: the caller loops, bounded), for a rule claim
	// taken meanwhile.
	again bool
	// raced: a create with an idempotency key checks that the stored event
	// is its own; two identical requests race under one command id, and
	// the store reports success to both (see stored).
	raced bool
}

// outcome is what run reports besides its error.
type outcome[S stateful[S]] struct {
	Result
	state   S              // the state decided on (a replay: the stored one)
	payload events.Payload // the decided payload; nil for a replay
	first   uint64         // the sequence of the command's own event
	at      time.Time      // the decision's time
}

// errDecideAgain: the append conflicted for a reason fresh state may
// resolve (a rule claim taken meanwhile); decide again.
var errDecideAgain = errors.New("decide again")

// run is the command pipeline: load and fold the aggregate, recognise a
// replayed command id (reporting the first attempt's last sequence),
// decide, seal, add the name claims and releases, the cascade's token
// events that fit in one atomic batch and the idempotency-key claim,
// append with the aggregate's expectation, and explain a conflict by
// deciding again on fresh state: a key or name taken meanwhile, the first
// attempt stored after all (its replay), ErrExists for a create, the
// decision's error when the command no longer applies, else ErrConflict.
func run[S stateful[S]](ctx context.Context, h *Handler, m Meta, c command[S]) (o outcome[S], err error) {
	defer func() { o.Head = o.first }()
	if !ValidID(c.id) {
		if !c.create {
			return outcome[S]{}, ErrNotFound
		}
		// Let decide name the field when it validates the id itself
		// (environment name, project id).
		var zero S
		if _, err := c.decide(ctx, zero, &expectation{}, h.Now()); err != nil {
			return outcome[S]{}, err
		}
		return outcome[S]{}, checkID("id", c.id)
	}
	m = h.withCommandID(m)
	read := c.read
	if read == nil {
		read = func(ctx context.Context) (S, expectation, error) {
			s, err := load(ctx, h, c.kind, c.id, c.fold)
			return s, expectation{}, err
		}
	}
	if c.generated {
		loaded := read
		first := true
		read = func(ctx context.Context) (S, expectation, error) {
			if first {
				first = false
				var zero S
				return zero, expectation{}, nil
			}
			return loaded(ctx)
		}
	}
	names := func(s S, p events.Payload) []nameOp {
		if c.names == nil {
			return nil
		}
		return c.names(s, p)
	}
	// replay is the outcome of a command id recorded at seq on s. The
	// batch's last event may be a name, token or key event: report it, so
	// a replay waits for what the first attempt waited for.
	replay := func(s S, seq uint64, ops []nameOp) (outcome[S], error) {
		r, err := h.replayedWithTokens(ctx, m, seq, ops, c.tokens)
		return outcome[S]{Result: r, state: s, first: seq}, err
	}
	s, wide, err := read(ctx)
	if err != nil {
		return outcome[S]{}, err
	}
	if seq, ok := s.base().Command(m.CommandID); ok {
		return replay(s, seq, names(s, nil))
	}
	now := h.Now()
	p, err := c.decide(ctx, s, &wide, now)
	if errors.Is(err, ErrUnchanged) {
		// Nothing will be appended, so no expectation checks the state
		// this was decided on, which may be a cached one that a lagging
		// read did not bring up to date: decide again on a full load.
		h.states.drop(aggregateKey{kind: c.kind, id: c.id})
		if s, wide, err = read(ctx); err != nil {
			return outcome[S]{}, err
		}
		if seq, ok := s.base().Command(m.CommandID); ok {
			return replay(s, seq, names(s, nil))
		}
		p, err = c.decide(ctx, s, &wide, now)
		if errors.Is(err, ErrUnchanged) {
			seq, kerr := h.claimKeyAlone(ctx, m, now, events.Owner{Kind: c.kind, ID: c.id})
			if kerr != nil {
				return outcome[S]{}, kerr
			}
			return outcome[S]{Result: Result{Seq: max(seq, s.base().Version)}, state: s}, ErrUnchanged
		}
	}
	if err != nil {
		return outcome[S]{}, err
	}
	ops := names(s, p)
	var extra func() ([]Append, error)
	if c.claims != nil {
		extra = func() ([]Append, error) { return c.claims(ctx, s, p, now) }
	}
	a, err := h.withTokens(ctx, m, c.kind, c.id, s.base(), wide, p, now, ops, extra, c.tokens, c.token)
	if errors.Is(err, errKeyUnchanged) { // the first attempt changed nothing
		return outcome[S]{Result: Result{Seq: s.base().Version}, state: s}, ErrUnchanged
	}
	if errors.Is(err, errKeyOurs) { // an identical request won the race
		stored, seq, err := replayedRace(ctx, m, read)
		if err != nil {
			return outcome[S]{}, err
		}
		return replay(stored, seq, ops)
	}
	if err == nil {
		// The store reports a duplicate when an append with this command's
		// msg ids was stored first (a retry, or another ledger process doing
		// the same work): nothing new was stored.
		dup := a.Replayed
		if !dup && c.raced {
			ours, err := h.stored(ctx, m, a.head)
			if err != nil {
				return outcome[S]{}, err
			}
			dup = !ours
		}
		if dup { // an identical request won the race: its replay
			stored, _, err := read(ctx)
			if err != nil {
				return outcome[S]{}, err
			}
			if seq, ok := stored.base().Command(m.CommandID); ok {
				return replay(stored, seq, ops)
			}
			return outcome[S]{Result: Result{Seq: a.Seq, Replayed: true}, state: stored, first: a.first}, nil
		}
		return outcome[S]{Result: a.Result, state: s, payload: p, first: a.first, at: now}, nil
	}
	if !errors.Is(err, ErrConflict) {
		return outcome[S]{}, err
	}
	if why := h.afterConflict(ctx, m, events.Owner{Kind: c.kind, ID: c.id}, ops); why != nil {
		return outcome[S]{}, why
	}
	fresh, freshWide, lerr := read(ctx)
	if lerr != nil {
		return outcome[S]{}, errors.Join(err, lerr)
	}
	if seq, ok := fresh.base().Command(m.CommandID); ok {
		return replay(fresh, seq, ops)
	}
	switch {
	case c.create && (fresh.base().Exists || !c.again):
		return outcome[S]{}, fmt.Errorf("create %s %s: %w", c.kind, c.id, ErrExists)
	case c.create:
		return outcome[S]{}, errDecideAgain
	}
	if _, why := c.decide(ctx, fresh, &freshWide, h.Now()); why != nil {
		return outcome[S]{}, why
	}
	return outcome[S]{}, err
}

// createWithID runs a create whose aggregate id the handler generates (a
// UUIDv7) when the command does not carry one, and returns that id.
func createWithID[S stateful[S]](ctx context.Context, h *Handler, m Meta, kind, id string,
	fold func([]events.Envelope) (S, error), decide func(S, time.Time) (events.Payload, error),
	names func(S, events.Payload) []nameOp) (string, Result, error) {
	generated := id == ""
	if generated {
		id = uuid.Must(uuid.NewV7FromReader(h.rand)).String()
	}
	o, err := run(ctx, h, m, command[S]{kind: kind, id: id, create: true, generated: generated, fold: fold, names: names,
		decide: func(_ context.Context, s S, _ *expectation, now time.Time) (events.Payload, error) {
			return decide(s, now)
		}})
	if err != nil {
		return "", Result{}, err
	}
	return id, o.Result, nil
}

// MaxAtomicBatch is the most events one atomic append holds (JetStream's
// limit). A deletion that cascades to more tokens appends what fits; the
// rest are recorded by the sweeper (internal/expiry), while the token set
// treats them as revoked from the deletion on.
const MaxAtomicBatch = 1000

// maxRuleClaims bounds the rule claims a command adds to its batch (an
// account token's slot and first-token claims).
const maxRuleClaims = 2

// withTokens appends head (the event of the aggregate kind/id whose state is
// s) together with one event per affected token, atomically: one Append
// with one entry per aggregate, each with its own expectation and Prev, and
// MsgIDs <commandID>/<i>. decide returns a nil payload for a token the
// command does not affect; it is skipped. Token ids are deduplicated; an id
// that cannot name a token is skipped.
//
// wide, when its filter is set, replaces the head's expectation on its own
// aggregate by one on every event of the filter (see Append.ExpectedFilter).
//
// extra, when set, returns further appends of the command (rule claims),
// placed before the key claim; it is called after the key and name claims
// were checked, so their errors come first.
func (h *Handler) withTokens(ctx context.Context, m Meta, kind, id string, s AggregateState, wide expectation, head events.Payload,
	now time.Time, ownNames []nameOp, extra func() ([]Append, error), tokens []string, decide func(TokenState) (events.Payload, error)) (appended, error) {
	own, key, err := h.head(ctx, m, id, head, s.LastHash, s.Version, now)
	if err != nil {
		return appended{}, err
	}
	if wide.filter != "" {
		own.ExpectedFilter, own.Expected = wide.filter, wide.seq
	}
	batch := []Append{own}
	var names []Append // the releases of revoked tokens' descriptions, after the tokens
	seen := make(map[string]bool, len(tokens))
	for _, tid := range tokens {
		if seen[tid] || !ValidID(tid) || decide == nil {
			continue
		}
		seen[tid] = true
		ts, err := h.loadToken(ctx, tid)
		if err != nil {
			return appended{}, err
		}
		p, err := decide(ts)
		if err != nil {
			return appended{}, fmt.Errorf("token %s: %w", tid, err)
		}
		if p == nil {
			continue
		}
		tenv, err := h.envelope(m, tid, p, ts.LastHash, now)
		if err != nil {
			return appended{}, err
		}
		freed, err := h.nameAppends(ctx, m, now, events.Owner{Kind: events.KindToken, ID: tid}, h.tokenNameOps(ts, p))
		if err != nil {
			return appended{}, err
		}
		if len(batch)+len(names)+1+len(freed)+len(ownNames)+len(key) > MaxAtomicBatch-maxRuleClaims {
			// The rest is the sweeper's (internal/expiry): the deletion
			// already makes them verify as revoked (tokenset).
			break
		}
		batch = append(batch, Append{Event: tenv, Expected: ts.Version})
		names = append(names, freed...)
	}
	released, err := h.nameAppends(ctx, m, now, events.Owner{Kind: kind, ID: id}, ownNames)
	if err != nil {
		return appended{}, err
	}
	var claims []Append
	if extra != nil {
		if claims, err = extra(); err != nil {
			return appended{}, err
		}
	}
	batch = append(append(append(append(batch, names...), released...), claims...), key...)
	msgIDs(m, batch)
	stored, err := h.store.Append(ctx, batch...)
	if errors.Is(err, ErrConflict) {
		// A state the batch was decided on missed an event: forget the
		// cached ones, so the command is decided again on full loads.
		for i := range batch {
			h.states.drop(aggregateKey{kind: batch[i].Event.AggregateKind, id: batch[i].Event.AggregateID})
		}
	}
	if err != nil {
		return appended{}, fmt.Errorf("append %s of %s: %w", head.EventType(), id, err)
	}
	// An atomic batch is stored at consecutive sequences, head first. A
	// duplicate (another process appended the same command's events with
	// the same msg ids first) stored nothing: the command was replayed.
	seq := stored.Seq
	return appended{Result: Result{Seq: seq, Replayed: stored.Duplicate}, first: seq - uint64(len(batch)-1), head: own.Event}, nil
}

// expectation is an append's expectation over a subject filter wider than
// one aggregate; the zero value: the aggregate's own.
type expectation struct {
	filter string
	seq    uint64
}

// replayedWithTokens is the outcome of a replayed multi-aggregate command
// whose head event is at headSeq: the sequence of the batch's last event,
// found among the tokens that recorded the command id (the tokens of a
// retry are those of the first attempt).
func (h *Handler) replayedWithTokens(ctx context.Context, m Meta, headSeq uint64, names []nameOp, tokens []string) (Result, error) {
	seq, err := h.keySeq(ctx, m, headSeq)
	if err != nil {
		return Result{}, err
	}
	r := Result{Seq: seq, Replayed: true}
	for _, op := range names {
		s, err := load(ctx, h, events.KindName, events.NameID(op.scope, op.name), FoldName)
		if err != nil {
			return Result{}, err
		}
		if seq, ok := s.Command(m.CommandID); ok && seq > r.Seq {
			r.Seq = seq
		}
	}
	seen := make(map[string]bool, len(tokens))
	for _, tid := range tokens {
		if seen[tid] || !ValidID(tid) {
			continue
		}
		seen[tid] = true
		ts, err := h.loadToken(ctx, tid)
		if err != nil {
			return Result{}, err
		}
		if seq, ok := ts.Command(m.CommandID); ok && seq > r.Seq {
			r.Seq = seq
		}
	}
	return r, nil
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

// appended is what withTokens stored: the batch's last sequence, the
// sequence of its first event (the command's own) and that event.
type appended struct {
	Result
	first uint64
	head  events.Envelope
}

// cascade describes a deletion of one aggregate that also changes tokens
// (revokes or narrows them) in the same atomic append; see onCascade.
type cascade[S stateful[S]] struct {
	fold   func([]events.Envelope) (S, error)
	read   func(context.Context) (S, expectation, error) // see command.read
	decide func(context.Context, S, *expectation) (events.Payload, error)
	names  func(S) []nameOp // the names the aggregate releases (nil: none)
	tokens []string
	token  func(TokenState) (events.Payload, error)
}

// onCascade runs a deletion with a token cascade through run.
func onCascade[S stateful[S]](ctx context.Context, h *Handler, m Meta, kind, id string, c cascade[S]) (Result, error) {
	cmd := command[S]{kind: kind, id: id, fold: c.fold, read: c.read, tokens: c.tokens, token: c.token,
		decide: func(ctx context.Context, s S, wide *expectation, _ time.Time) (events.Payload, error) {
			return c.decide(ctx, s, wide)
		}}
	if c.names != nil {
		cmd.names = func(s S, _ events.Payload) []nameOp { return c.names(s) }
	}
	o, err := run(ctx, h, m, cmd)
	return o.Result, err
}
