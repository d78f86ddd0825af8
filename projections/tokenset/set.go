package tokenset

import (
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// ErrCorrupt is returned (wrapped) by [Set.Apply] for an event the Set
// cannot apply to its state: an event for a token it never saw created, a
// second token.created for one id, a malformed verifier or payload, or a
// token event type this build does not know. The event is not applied and
// the Set is unchanged; a stream that yields such an event needs an
// operator, not a retry.
var ErrCorrupt = errors.New("token set cannot apply event")

// Set is the current token set. Create one with [New]; the zero value is
// not usable.
//
// A Set is safe for concurrent use: any number of goroutines may verify and
// look up tokens while one goroutine applies events. Readers never see a
// half-applied event. Verification takes no lock (see vindex); the other
// lookups share a sync.RWMutex with Apply.
type Set struct {
	vx vindex // verifier → current token; read without s.mu

	mu   sync.RWMutex
	last uint64

	// The management indexes hold entries, which stay put while the token
	// in them is replaced by each event (tokens are immutable once
	// published, for the lock-free vindex).
	byID      map[string]*entry
	bySeq     map[uint64]*entry
	byName    map[string][]*entry       // in CreatedSeq order; names never change
	byOwner   map[events.Owner][]*entry // in CreatedSeq order; owners never change
	byProject map[string]map[*entry]struct{}
	// pending holds the tokens that may still expire: not revoked, with an
	// ExpiresAt and no token.expired recorded for it.
	pending map[*entry]struct{}
	all     []*entry // in CreatedSeq order

	// The deleted scopes and owners, in stream order, and the not-revoked
	// tokens that still name one of them (stale: to be revoked or narrowed
	// by the sweeper).
	deletedProjects map[string]bool
	deletedEnvs     map[string]bool
	deletedOwners   map[events.Owner]bool
	stale           map[*entry]struct{}

	in interner // values shared across tokens
}

// entry is a token's place in the management indexes. t is its current
// version, replaced (never mutated) under Set.mu.
type entry struct{ t *Token }

// New returns an empty Set.
func New() *Set {
	return &Set{
		byID:      map[string]*entry{},
		bySeq:     map[uint64]*entry{},
		byName:    map[string][]*entry{},
		byOwner:   map[events.Owner][]*entry{},
		byProject: map[string]map[*entry]struct{}{},
		pending:   map[*entry]struct{}{},

		deletedProjects: map[string]bool{},
		deletedEnvs:     map[string]bool{},
		deletedOwners:   map[events.Owner]bool{},
		stale:           map[*entry]struct{}{},
	}
}

// LastApplied is the stream sequence of the last event applied (0 before
// the first).
func (s *Set) LastApplied() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.last
}

// Len is the number of tokens ever created, revoked ones included.
func (s *Set) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.all)
}

// Apply applies one event, which must come from the stream in order.
//
//   - An event whose Sequence is at or below [Set.LastApplied] was applied
//     already and is ignored (no error): Apply is idempotent by sequence.
//   - Events of other aggregate kinds do not change tokens but advance
//     LastApplied.
//   - Token events change the token of their aggregate id. An event the Set
//     cannot apply returns an error wrapping [ErrCorrupt] and leaves the Set
//     unchanged: an unknown token event type, an event for a token id that
//     was never created, a second token.created for an id, or a bad payload.
//   - An event without a stream sequence (0) is an error: it cannot be
//     ordered.
//
// Two tokens created with the same verifier (the same secret, which
// commands must prevent) resolve to the newer one: verification of that
// secret answers with the newest token created with it.
//
// Apply never panics on bad input.
func (s *Set) Apply(env events.Envelope) error {
	_, err := s.applyEvent(env, false)
	return err
}

// ApplyOrphans is [Set.Apply], and it returns the tokens the event
// orphaned, in CreatedSeq order: those that verified before it (neither
// revoked nor orphaned) and are [Token.Orphaned] from it on, because it
// deleted their project (the last they listed), environment or owner. A
// follower that reports revocations (projections/verifier) reports these
// too: they stop verifying at the deletion, before the ledger records
// their token.revoked.
func (s *Set) ApplyOrphans(env events.Envelope) ([]Token, error) {
	return s.applyEvent(env, true)
}

func (s *Set) applyEvent(env events.Envelope, orphans bool) ([]Token, error) {
	if env.Sequence == 0 {
		return nil, fmt.Errorf("tokenset: apply %s event %s: no stream sequence", env.Type, env.ID)
	}
	// Decode before taking the write lock, so readers are not blocked
	// behind JSON decoding.
	var (
		p        events.Payload
		verifier [32]byte
		perr     error
	)
	if env.AggregateKind == events.KindToken {
		p, perr = env.Payload()
		if c, ok := p.(events.TokenCreated); ok && perr == nil && c.Verifier != "" {
			verifier, perr = decodeVerifier(c.Verifier)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if env.Sequence <= s.last {
		return nil, nil
	}
	if env.AggregateKind != events.KindToken {
		orphaned := s.applyScope(&env, orphans)
		s.last = env.Sequence
		return orphaned, nil
	}
	if perr == nil {
		perr = s.apply(&env, p, verifier)
	}
	if perr != nil {
		return nil, fmt.Errorf("tokenset: apply seq %d (%s of token %s): %w: %w", env.Sequence, env.Type, env.AggregateID, ErrCorrupt, perr)
	}
	s.last = env.Sequence
	return nil, nil
}

// noVerifier is the verifier of a token created without one: the
// readers' feed leaves admin tokens' verifiers out (projections/feed), so
// a set built from the feed knows those tokens (their revocations apply)
// but verifies no secret as one of them.
var noVerifier [32]byte

func decodeVerifier(h string) ([32]byte, error) {
	var v [32]byte
	if hex.DecodedLen(len(h)) != len(v) {
		return v, fmt.Errorf("verifier has %d hex digits, want 64", len(h))
	}
	if _, err := hex.Decode(v[:], []byte(h)); err != nil {
		return v, errors.New("verifier is not hex")
	}
	return v, nil
}

// apply changes the state for one token event. It validates everything
// before the first change, so an error leaves the Set untouched.
func (s *Set) apply(env *events.Envelope, p events.Payload, verifier [32]byte) error {
	if c, ok := p.(events.TokenCreated); ok {
		if _, dup := s.byID[env.AggregateID]; dup {
			return errors.New("token already exists")
		}
		s.create(env, c, verifier)
		return nil
	}
	e := s.byID[env.AggregateID]
	if e == nil {
		return errors.New("no such token")
	}
	t := *e.t // the next version; the published one stays as it is
	switch p := p.(type) {
	case events.TokenScoped:
		t.Projects = s.in.projects(p.Projects)
		t.AllProjects = false
	case events.TokenExpiryChanged:
		t.ExpiresAt = deref(p.New)
		t.ExpiredRecorded = false
	case events.TokenExpired:
		t.ExpiredRecorded = true
	case events.TokenRevoked:
		// The first revocation is the one that counts.
		if !t.Revoked {
			t.Revoked = true
			t.RevokedAt = env.Time
			t.RevokeReason = s.in.str(p.Reason)
		}
	default:
		return fmt.Errorf("%w: %q is not a token event", events.ErrUnknownType, env.Type)
	}
	t.Version = env.Sequence
	s.publish(e, &t)
	return nil
}

func (s *Set) create(env *events.Envelope, c events.TokenCreated, verifier [32]byte) {
	t := &Token{
		ID:          env.AggregateID,
		Type:        s.in.str(c.TokenType),
		Name:        c.Name,
		Environment: s.in.str(c.Environment),
		Projects:    s.in.projects(c.Projects),
		AllProjects: c.AllProjects,
		ExpiresAt:   deref(c.ExpiresAt),
		CreatedAt:   env.Time,
		CreatedSeq:  env.Sequence,
		Path:        s.in.str(c.Path),
		Hint:        c.Hint,
		OnBehalfOf:  c.OnBehalfOf,
		CreatedBy:   s.in.actor(env.Actor),
		Version:     env.Sequence,
		verifier:    verifier,
	}
	e := &entry{}
	if c.Owner != nil {
		o := *c.Owner
		t.Owner = &o
		s.byOwner[o] = append(s.byOwner[o], e)
	}
	s.byID[t.ID] = e
	s.bySeq[t.CreatedSeq] = e
	s.byName[t.Name] = append(s.byName[t.Name], e)
	s.all = append(s.all, e)
	s.publish(e, t)
}

// applyScope applies the deletion (or creation) of what tokens act for: a
// project, an environment, a user or a service account. The tokens it
// orphans stop verifying at once (see Token.Orphaned); with orphans set it
// returns them (those that verified before), in CreatedSeq order.
func (s *Set) applyScope(env *events.Envelope, orphans bool) []Token {
	var affected []*entry
	switch env.Type {
	case events.TypeProjectDeleted:
		s.deletedProjects[env.AggregateID] = true
		for e := range s.byProject[env.AggregateID] {
			affected = append(affected, e)
		}
	case events.TypeEnvironmentDeleted:
		s.deletedEnvs[env.AggregateID] = true
		for _, e := range s.all {
			if e.t.Environment == env.AggregateID {
				affected = append(affected, e)
			}
		}
	case events.TypeEnvironmentCreated:
		// Names are not reused by the ledger's commands; should a stream
		// reuse one, tokens created from now on are not orphaned by the
		// old deletion (those it orphaned stay so).
		delete(s.deletedEnvs, env.AggregateID)
	case events.TypeUserDeleted, events.TypeServiceAccountDeleted:
		kind := events.ActorUser
		if env.Type == events.TypeServiceAccountDeleted {
			kind = events.ActorServiceAccount
		}
		o := events.Owner{Kind: kind, ID: env.AggregateID}
		s.deletedOwners[o] = true
		affected = s.byOwner[o]
	}
	var orphaned []Token
	for _, e := range affected {
		t := *e.t
		_, wasStale := s.stale[e]
		if s.orphan(&t) != e.t.Orphaned || s.isStale(&t) != wasStale {
			if orphans && t.Orphaned && !e.t.Orphaned && !e.t.Revoked {
				orphaned = append(orphaned, t)
			}
			s.publish(e, &t)
		}
	}
	sortBySeq(orphaned)
	return orphaned
}

// orphan sets t.Orphaned from the deletions applied so far (it never
// clears it: a token once orphaned stays so) and reports it.
func (s *Set) orphan(t *Token) bool {
	switch {
	case t.Owner != nil && s.deletedOwners[*t.Owner]:
		t.Orphaned = true
	case t.Environment != "" && s.deletedEnvs[t.Environment]:
		t.Orphaned = true
	case !t.AllProjects && len(t.Projects) > 0:
		gone := 0
		for _, p := range t.Projects {
			if s.deletedProjects[p] {
				gone++
			}
		}
		t.Orphaned = t.Orphaned || gone == len(t.Projects)
	}
	return t.Orphaned
}

// isStale reports whether t is not revoked and is orphaned or lists a
// deleted project: its record is not final yet.
func (s *Set) isStale(t *Token) bool {
	if t.Revoked {
		return false
	}
	if t.Orphaned {
		return true
	}
	if !t.AllProjects {
		for _, p := range t.Projects {
			if s.deletedProjects[p] {
				return true
			}
		}
	}
	return false
}

// Stale returns the not-revoked tokens that an applied deletion left
// orphaned or listing a deleted project, in CreatedSeq order, at most
// limit of them (all when limit ≤ 0): the work of the scope sweeper.
func (s *Set) Stale(limit int) []Token {
	s.mu.RLock()
	out := make([]Token, 0, len(s.stale))
	for e := range s.stale {
		out = append(out, *e.t)
	}
	s.mu.RUnlock()
	sortBySeq(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// Deleted reports whether the deletion of what a token can act for was
// applied: kind is events.KindProject, events.KindEnvironment,
// events.ActorUser or events.ActorServiceAccount.
func (s *Set) Deleted(kind, id string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch kind {
	case events.KindProject:
		return s.deletedProjects[id]
	case events.KindEnvironment:
		return s.deletedEnvs[id]
	case events.ActorUser, events.ActorServiceAccount:
		return s.deletedOwners[events.Owner{Kind: kind, ID: id}]
	}
	return false
}

// publish makes t the current version of e's token: in the project index,
// the pending set and the verifier index. A token whose verifier was taken
// over by a newer token (the same secret created twice) leaves the verifier
// with the newer one.
func (s *Set) publish(e *entry, t *Token) {
	old := e.t
	s.orphan(t)
	if s.isStale(t) {
		s.stale[e] = struct{}{}
	} else {
		delete(s.stale, e)
	}
	e.t = t
	if old == nil || old.AllProjects != t.AllProjects || !slices.Equal(old.Projects, t.Projects) {
		if old != nil {
			s.unindexProjects(e, old)
		}
		s.indexProjects(e, t)
	}
	if !t.Revoked && !t.ExpiresAt.IsZero() && !t.ExpiredRecorded {
		s.pending[e] = struct{}{}
	} else {
		delete(s.pending, e)
	}
	if t.verifier == noVerifier {
		return // no secret verifies to it (see decodeVerifier's caller)
	}
	if cur := s.vx.get(&t.verifier); old == nil || cur == nil || cur.ID == t.ID {
		s.vx.put(t)
	}
}

// indexProjects adds e to the index of every project t lists explicitly.
// All-projects tokens are in no project's index.
func (s *Set) indexProjects(e *entry, t *Token) {
	if t.AllProjects {
		return
	}
	for _, p := range t.Projects {
		m := s.byProject[p]
		if m == nil {
			m = map[*entry]struct{}{}
			s.byProject[p] = m
		}
		m[e] = struct{}{}
	}
}

// unindexProjects removes e from the indexes t put it in.
func (s *Set) unindexProjects(e *entry, t *Token) {
	if t.AllProjects {
		return
	}
	for _, p := range t.Projects {
		if m := s.byProject[p]; m != nil {
			delete(m, e)
			if len(m) == 0 {
				delete(s.byProject, p)
			}
		}
	}
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// Verify verifies a presented secret at the current time; see
// [Set.VerifyAt].
func (s *Set) Verify(secret string) (*Token, Status) {
	return s.VerifyAt(secret, time.Now())
}

// VerifyAt verifies a presented secret as of now: it hashes the secret with
// [events.Verifier], looks the verifier up and compares it in constant time.
// An unknown secret yields (nil, Unknown); otherwise the token and its
// [Token.StatusAt] now. Any secret shape works (generated, legacy 64-hex,
// Unleash's 56-hex, bootstrap strings).
//
// VerifyAt does not allocate and does not copy: the returned *Token is the
// Set's published, immutable snapshot of the token (a later event publishes
// a new one). Callers must treat it as read-only.
func (s *Set) VerifyAt(secret string, now time.Time) (*Token, Status) {
	v := events.Verifier(secret)
	return s.vx.verify(&v, unixNano(now))
}

// Lookup finds the token of a full secret whatever its status, for
// management routes that accept the secret in place of the id. Like
// [Set.VerifyAt] it compares verifiers in constant time, takes no lock and
// does not allocate.
func (s *Set) Lookup(secret string) (Token, bool) {
	v := events.Verifier(secret)
	t := s.vx.get(&v)
	if t == nil {
		return Token{}, false
	}
	return *t, true
}

// ByID returns the token with the given id (its aggregate id).
func (s *Set) ByID(id string) (Token, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return get(s.byID[id])
}

// ByCreatedSeq returns the token whose token.created event has stream
// sequence seq (a personal access token's integer id).
func (s *Set) ByCreatedSeq(seq uint64) (Token, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return get(s.bySeq[seq])
}

func get(e *entry) (Token, bool) {
	if e == nil {
		return Token{}, false
	}
	return *e.t, true
}

// ByName returns the tokens with the given name, in CreatedSeq order.
// Names are not unique.
func (s *Set) ByName(name string) []Token {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return copyAll(s.byName[name])
}

// ByOwner returns the tokens owned by the principal (kind is
// events.ActorUser or events.ActorServiceAccount), in CreatedSeq order.
func (s *Set) ByOwner(kind, id string) []Token {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return copyAll(s.byOwner[events.Owner{Kind: kind, ID: id}])
}

// ByProject returns the tokens whose explicit project list currently
// includes project, in CreatedSeq order. All-projects tokens are not
// included.
func (s *Set) ByProject(project string) []Token {
	s.mu.RLock()
	m := s.byProject[project]
	out := make([]Token, 0, len(m))
	for e := range m {
		out = append(out, *e.t)
	}
	s.mu.RUnlock()
	sortBySeq(out)
	return out
}

// All returns every token, revoked ones included, in CreatedSeq order.
func (s *Set) All() []Token {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return copyAll(s.all)
}

// Due returns the tokens whose expiry passed at now and for which no
// token.expired was recorded yet, excluding revoked ones, ordered by
// ExpiresAt then CreatedSeq. The expiry scheduler appends token.expired for
// each.
func (s *Set) Due(now time.Time) []Token {
	s.mu.RLock()
	var out []Token
	for e := range s.pending {
		if !now.Before(e.t.ExpiresAt) {
			out = append(out, *e.t)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Token) int {
		if c := a.ExpiresAt.Compare(b.ExpiresAt); c != 0 {
			return c
		}
		return cmp.Compare(a.CreatedSeq, b.CreatedSeq)
	})
	return out
}

func copyAll(es []*entry) []Token {
	out := make([]Token, len(es))
	for i, e := range es {
		out[i] = *e.t
	}
	return out
}

func sortBySeq(ts []Token) {
	slices.SortFunc(ts, func(a, b Token) int { return cmp.Compare(a.CreatedSeq, b.CreatedSeq) })
}
