package tokenset

import (
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"runtime"
	"slices"
	"sort"
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
// half-applied event. Verification takes no lock (see vindex and rec); the
// other lookups share a sync.RWMutex with Apply.
type Set struct {
	vx    vindex      // verifier → record; read without s.mu
	recs  column[rec] // the tokens in CreatedSeq order; read without s.mu
	blobs arena       // their ids, names and hints
	in    interned    // values shared across tokens

	mu   sync.RWMutex
	last uint64

	seed      maphash.Seed
	byID      hindex              // hash of the id
	byName    hindex              // hash of the name → newest token of that name
	ownerHead []uint32            // owner index → newest token of that owner (index+1)
	byProject map[uint32][]uint32 // project (in.strs) → tokens listing it, ascending
	// pending holds the tokens that may still expire: not revoked, with an
	// ExpiresAt and no token.expired recorded for it.
	pending pendingSet

	// The deleted scopes and owners, in stream order, and the not-revoked
	// tokens that still name one of them (stale: to be revoked or narrowed
	// by the sweeper).
	deletedProjects map[string]bool
	deletedEnvs     map[string]bool
	deletedOwners   map[events.Owner]bool
	stale           map[uint32]struct{}

	// betweenDigestChunks, when set (tests), runs between two chunks of
	// DigestYielding, without the lock.
	betweenDigestChunks func()
}

// New returns an empty Set.
func New() *Set {
	s := &Set{}
	s.init()
	return s
}

func (s *Set) init() {
	s.in.init()
	s.seed = maphash.MakeSeed()
	s.byID, s.byName, s.ownerHead = hindex{}, hindex{}, nil
	s.byProject = map[uint32][]uint32{}
	s.pending = pendingSet{}
	s.deletedProjects = map[string]bool{}
	s.deletedEnvs = map[string]bool{}
	s.deletedOwners = map[events.Owner]bool{}
	s.stale = map[uint32]struct{}{}
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
	return int(s.recs.n)
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
		if _, dup := s.find(env.AggregateID); dup {
			return errors.New("token already exists")
		}
		s.create(env, c, verifier)
		return nil
	}
	i, ok := s.find(env.AggregateID)
	if !ok {
		return errors.New("no such token")
	}
	old := s.token(i)
	t := old // the next version
	switch p := p.(type) {
	case events.TokenScoped:
		t.Projects = p.Projects
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
			t.RevokeReason = p.Reason
		}
	default:
		return fmt.Errorf("%w: %q is not a token event", events.ErrUnknownType, env.Type)
	}
	t.Version = env.Sequence
	s.publish(i, &old, &t)
	return nil
}

func (s *Set) create(env *events.Envelope, c events.TokenCreated, verifier [32]byte) {
	t := Token{
		ID:          env.AggregateID,
		Type:        c.TokenType,
		Name:        c.Name,
		Owner:       c.Owner,
		Environment: c.Environment,
		Projects:    c.Projects,
		AllProjects: c.AllProjects,
		ExpiresAt:   deref(c.ExpiresAt),
		CreatedAt:   env.Time,
		CreatedSeq:  env.Sequence,
		Path:        c.Path,
		Hint:        c.Hint,
		OnBehalfOf:  c.OnBehalfOf,
		CreatedBy:   env.Actor,
		Version:     env.Sequence,
		verifier:    verifier,
	}
	s.add(&t)
}

// add appends t as a new record (t.CreatedSeq is above every record's)
// and indexes it. Its values are copied: the record keeps none of t's
// memory.
func (s *Set) add(t *Token) {
	r, i := s.recs.next()
	r.verifier = t.verifier
	r.createdSeq = t.CreatedSeq
	cre, creSet, creOver := s.in.stamp(t.CreatedAt)
	r.cre = cre
	r.flags.Store(bit(creSet, recCreSet) | bit(creOver, recCreOver))
	r.typ, r.env, r.path = s.in.str(t.Type), s.in.str(t.Environment), s.in.str(t.Path)
	r.owner = s.in.owner(t.Owner)
	r.creator = s.in.actor(t.CreatedBy)
	if len(t.ID) <= math.MaxUint16 && len(t.Name) <= math.MaxUint16 && len(t.Hint) <= math.MaxUint16 {
		r.blobChunk, r.blobOff = s.blobs.put(t.ID, t.Name, t.Hint)
		r.idLen, r.nameLen, r.hintLen = uint16(len(t.ID)), uint16(len(t.Name)), uint16(len(t.Hint))
	} else {
		// Lengths that do not fit the record go in a header before the
		// parts; such a blob is longer than a chunk, so it starts one.
		var h [12]byte
		binary.LittleEndian.PutUint32(h[0:], uint32(len(t.ID)))
		binary.LittleEndian.PutUint32(h[4:], uint32(len(t.Name)))
		binary.LittleEndian.PutUint32(h[8:], uint32(len(t.Hint)))
		r.blobChunk, r.blobOff = s.blobs.put(string(h[:]), t.ID, t.Name, t.Hint)
		r.flags.Store(r.flags.Load() | recLongBlob)
	}

	s.byID.set(s.hash(t.ID), i, func(j uint32) bool { return s.idOf(j) == t.ID }, s.hashID)
	if j, ok := s.byName.find(s.hash(t.Name), func(j uint32) bool { return s.nameOf(j) == t.Name }); ok {
		r.nextName = j + 1
	}
	s.byName.set(s.hash(t.Name), i, func(j uint32) bool { return s.nameOf(j) == t.Name }, s.hashName)
	if r.owner != 0 {
		for int(r.owner) >= len(s.ownerHead) {
			s.ownerHead = append(s.ownerHead, 0)
		}
		r.nextOwner, s.ownerHead[r.owner] = s.ownerHead[r.owner], i+1
	}
	s.publish(i, nil, t)
	if t.verifier != noVerifier { // no secret verifies to it (see decodeVerifier's caller)
		// The newest token created with a verifier takes it over.
		s.vx.put(&s.recs, &r.verifier, i)
	}
}

// publish makes t the current version of token i, whose version was old
// (nil for a new record): its record, the project index, the pending and
// stale sets.
func (s *Set) publish(i uint32, old, t *Token) {
	s.orphan(t)
	if s.isStale(t) {
		s.stale[i] = struct{}{}
	} else {
		delete(s.stale, i)
	}
	list := s.in.list(t.Projects)
	reason := s.in.str(t.RevokeReason)
	r := s.recs.at(i)
	cur := r.flags.Load()
	flags := cur&(recCreSet|recCreOver|recLongBlob) |
		bit(t.Revoked, recRevoked) | bit(t.ExpiredRecorded, recExpiredRecorded) |
		bit(t.AllProjects, recAllProjects) | bit(t.OnBehalfOf, recOnBehalfOf) | bit(t.Orphaned, recOrphaned)
	// A time that did not change keeps its stamp (an overflowed one is
	// not added again).
	exp, rev := r.exp.Load(), r.rev.Load()
	oldExp, oldRev, oldFlags := exp, rev, cur
	expChanged := old == nil || !sameTime(old.ExpiresAt, t.ExpiresAt)
	revChanged := old == nil || !sameTime(old.RevokedAt, t.RevokedAt)
	if expChanged {
		var set, over bool
		exp, set, over = s.in.stamp(t.ExpiresAt)
		cur = cur&^(recExpSet|recExpOver) | bit(set, recExpSet) | bit(over, recExpOver)
	}
	if revChanged {
		var set, over bool
		rev, set, over = s.in.stamp(t.RevokedAt)
		cur = cur&^(recRevSet|recRevOver) | bit(set, recRevSet) | bit(over, recRevOver)
	}
	flags |= cur & (recExpSet | recExpOver | recRevSet | recRevOver)
	r.seq.Add(1) // readers retry until the record is whole again
	r.flags.Store(flags)
	r.exp.Store(exp)
	r.projects.Store(list)
	r.reason.Store(reason)
	r.version.Store(t.Version)
	r.rev.Store(rev)
	r.seq.Add(1)
	// The over slots of the times the record no longer holds are free
	// (an unchanged time kept its stamp; a new record held none).
	if expChanged {
		s.in.unstamp(oldExp, oldFlags&recExpOver != 0)
	}
	if revChanged {
		s.in.unstamp(oldRev, oldFlags&recRevOver != 0)
	}

	if old == nil || old.AllProjects != t.AllProjects || !slices.Equal(old.Projects, t.Projects) {
		if old != nil {
			s.indexProjects(i, old, false)
		}
		s.indexProjects(i, t, true)
	}
	if !t.Revoked && !t.ExpiresAt.IsZero() && !t.ExpiredRecorded {
		s.pending.add(i)
	} else {
		s.pending.remove(i)
	}
}

// indexProjects adds token i to (or removes it from) the index of every
// project t lists explicitly. All-projects tokens are in no project's
// index.
func (s *Set) indexProjects(i uint32, t *Token, add bool) {
	if t.AllProjects {
		return
	}
	for _, id := range s.in.lists.at(s.in.list(t.Projects)).ids {
		l := s.byProject[id]
		at, found := slices.BinarySearch(l, i)
		switch {
		case add && !found:
			l = slices.Insert(l, at, i)
		case !add && found:
			l = slices.Delete(l, at, at+1)
		}
		if len(l) == 0 {
			delete(s.byProject, id)
		} else {
			s.byProject[id] = l
		}
	}
}

// applyScope applies the deletion (or creation) of what tokens act for: a
// project, an environment, a user or a service account. The tokens it
// orphans stop verifying at once (see Token.Orphaned); with orphans set it
// returns them (those that verified before), in CreatedSeq order.
func (s *Set) applyScope(env *events.Envelope, orphans bool) []Token {
	var affected []uint32
	switch env.Type {
	case events.TypeProjectDeleted:
		s.deletedProjects[env.AggregateID] = true
		if id, ok := s.in.strs.lookup(env.AggregateID); ok {
			affected = slices.Clone(s.byProject[id])
		}
	case events.TypeEnvironmentDeleted:
		s.deletedEnvs[env.AggregateID] = true
		if id, ok := s.in.strs.lookup(env.AggregateID); ok {
			for i := range s.recs.n {
				if s.recs.at(i).env == id {
					affected = append(affected, i)
				}
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
		affected = s.ownerChain(o)
	}
	var orphaned []Token
	for _, i := range affected {
		old := s.token(i)
		t := old
		_, wasStale := s.stale[i]
		if s.orphan(&t) != old.Orphaned || s.isStale(&t) != wasStale {
			if orphans && t.Orphaned && !old.Orphaned && !old.Revoked {
				orphaned = append(orphaned, t)
			}
			s.publish(i, &old, &t)
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
	is := make([]uint32, 0, len(s.stale))
	for i := range s.stale {
		is = append(is, i)
	}
	slices.Sort(is)
	if limit > 0 && len(is) > limit {
		is = is[:limit]
	}
	out := s.tokens(is)
	s.mu.RUnlock()
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

// sameTime reports whether a and b are the same time in the same zone.
func sameTime(a, b time.Time) bool {
	return a.Equal(b) && a.Location() == b.Location() && a.IsZero() == b.IsZero()
}

func bit(on bool, b uint32) uint32 {
	if on {
		return b
	}
	return 0
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// token materialises record i as a Token. It takes no lock: it reads the
// record under its sequence lock, retrying while the writer changes it.
func (s *Set) token(i uint32) Token {
	r := s.recs.at(i)
	for {
		q := r.seq.Load()
		if q&1 != 0 {
			runtime.Gosched()
			continue
		}
		w := recWords{flags: r.flags.Load(), exp: r.exp.Load(), version: r.version.Load(),
			projects: r.projects.Load(), reason: r.reason.Load(), rev: r.rev.Load()}
		// Over times are read before the second check: their slots are
		// freed once the record changed (see interned.over).
		w.expOver = s.in.overTime(w.exp, w.flags&recExpOver != 0)
		w.revOver = s.in.overTime(w.rev, w.flags&recRevOver != 0)
		if r.seq.Load() == q {
			return s.read(r, &w)
		}
	}
}

// recWords are the words of a record the writer changes, copied whole
// under its sequence lock: nothing is looked up with them (an over
// column's index, a list's) before the copy is known not to be torn.
type recWords struct {
	flags            uint32
	exp, rev         int64
	version          uint64
	projects, reason uint32
	// The times of exp and rev when they are over (see stamp), read
	// under the lock too.
	expOver, revOver *time.Time
}

// read builds the Token of r whose changing words are w; see token.
func (s *Set) read(r *rec, w *recWords) Token {
	flags := w.flags
	in := &s.in
	id, name, hint := s.blob(r)
	return Token{
		verifier:        r.verifier,
		ExpiresAt:       timeOf(w.exp, flags&recExpSet != 0, w.expOver),
		Revoked:         flags&recRevoked != 0,
		ExpiredRecorded: flags&recExpiredRecorded != 0,
		AllProjects:     flags&recAllProjects != 0,
		OnBehalfOf:      flags&recOnBehalfOf != 0,
		Orphaned:        flags&recOrphaned != 0,
		ID:              id,
		Type:            in.strs.at(r.typ),
		Name:            name,
		Owner:           in.owners.at(r.owner),
		Environment:     in.strs.at(r.env),
		Projects:        in.lists.at(w.projects).names,
		CreatedAt:       in.time(r.cre, flags&recCreSet != 0, flags&recCreOver != 0),
		CreatedSeq:      r.createdSeq,
		Path:            in.strs.at(r.path),
		Hint:            hint,
		CreatedBy:       in.actors.at(r.creator),
		RevokedAt:       timeOf(w.rev, flags&recRevSet != 0, w.revOver),
		RevokeReason:    in.strs.at(w.reason),
		Version:         w.version,
	}
}

// blob is r's id, name and hint.
func (s *Set) blob(r *rec) (id, name, hint string) {
	off, il, nl, hl := uint32(r.blobOff), int(r.idLen), int(r.nameLen), int(r.hintLen)
	if r.flags.Load()&recLongBlob != 0 {
		h := s.blobs.str(r.blobChunk, off, 12)
		il = int(binary.LittleEndian.Uint32([]byte(h[0:4])))
		nl = int(binary.LittleEndian.Uint32([]byte(h[4:8])))
		hl = int(binary.LittleEndian.Uint32([]byte(h[8:12])))
		off += 12
	}
	b := s.blobs.str(r.blobChunk, off, il+nl+hl)
	return b[:il], b[il : il+nl], b[il+nl:]
}

func (s *Set) idOf(i uint32) string {
	id, _, _ := s.blob(s.recs.at(i))
	return id
}

func (s *Set) nameOf(i uint32) string {
	_, name, _ := s.blob(s.recs.at(i))
	return name
}

func (s *Set) hash(v string) uint64     { return maphash.String(s.seed, v) }
func (s *Set) hashID(i uint32) uint64   { return s.hash(s.idOf(i)) }
func (s *Set) hashName(i uint32) uint64 { return s.hash(s.nameOf(i)) }

// find returns the index of the token with the given id.
func (s *Set) find(id string) (uint32, bool) {
	return s.byID.find(s.hash(id), func(j uint32) bool { return s.idOf(j) == id })
}

// tokens materialises the records is.
func (s *Set) tokens(is []uint32) []Token {
	out := make([]Token, len(is))
	for k, i := range is {
		out[k] = s.token(i)
	}
	return out
}

// ownerChain is the tokens of owner o, in CreatedSeq order.
func (s *Set) ownerChain(o events.Owner) []uint32 {
	oi, ok := s.in.owners.lookup(o)
	if !ok || int(oi) >= len(s.ownerHead) {
		return nil
	}
	var is []uint32
	for e := s.ownerHead[oi]; e != 0; e = s.recs.at(e - 1).nextOwner {
		is = append(is, e-1)
	}
	slices.Reverse(is)
	return is
}

// Verify verifies a presented secret at the current time; see
// [Set.VerifyAt].
func (s *Set) Verify(secret string) (*Token, Status) {
	return s.VerifyAt(secret, time.Now())
}

// VerifyAt verifies a presented secret as of now: it hashes the secret with
// [events.Verifier], looks the verifier up and compares it in constant time.
// An unknown secret yields (nil, Unknown); otherwise a copy of the token
// and its [Token.StatusAt] now. Any secret shape works (generated, legacy
// 64-hex, Unleash's 56-hex, bootstrap strings).
//
// VerifyAt allocates the Token it returns (except for an unknown secret);
// [Set.Check] is the same verification without the allocation.
func (s *Set) VerifyAt(secret string, now time.Time) (*Token, Status) {
	t, st := s.Check(secret, now)
	if st == Unknown {
		return nil, Unknown
	}
	p := new(Token)
	*p = t
	return p, st
}

// Check is [Set.VerifyAt] returning the token by value: it takes no lock
// and does not allocate. The token's strings and slices are shared with
// the Set (see Token).
func (s *Set) Check(secret string, now time.Time) (Token, Status) {
	v := events.Verifier(secret)
	i, ok := s.vx.find(&s.recs, &v)
	if !ok {
		return Token{}, Unknown
	}
	t := s.token(i)
	return t, t.StatusAt(now)
}

// Lookup finds the token of a full secret whatever its status, for
// management routes that accept the secret in place of the id. Like
// [Set.Check] it compares verifiers in constant time, takes no lock and
// does not allocate.
func (s *Set) Lookup(secret string) (Token, bool) {
	v := events.Verifier(secret)
	i, ok := s.vx.find(&s.recs, &v)
	if !ok {
		return Token{}, false
	}
	return s.token(i), true
}

// ByID returns the token with the given id (its aggregate id).
func (s *Set) ByID(id string) (Token, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.find(id)
	if !ok {
		return Token{}, false
	}
	return s.token(i), true
}

// ByCreatedSeq returns the token whose token.created event has stream
// sequence seq (a personal access token's integer id).
func (s *Set) ByCreatedSeq(seq uint64) (Token, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	// Records are in CreatedSeq order.
	n := s.recs.n
	i, ok := sort.Find(int(n), func(k int) int { return cmp.Compare(seq, s.recs.at(uint32(k)).createdSeq) })
	if !ok {
		return Token{}, false
	}
	return s.token(uint32(i)), true
}

// ByName returns the tokens with the given name, in CreatedSeq order.
// Names are not unique.
func (s *Set) ByName(name string) []Token {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var is []uint32
	if j, ok := s.byName.find(s.hash(name), func(j uint32) bool { return s.nameOf(j) == name }); ok {
		for e := j + 1; e != 0; e = s.recs.at(e - 1).nextName {
			is = append(is, e-1)
		}
	}
	slices.Reverse(is)
	return s.tokens(is)
}

// ByOwner returns the tokens owned by the principal (kind is
// events.ActorUser or events.ActorServiceAccount), in CreatedSeq order.
func (s *Set) ByOwner(kind, id string) []Token {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tokens(s.ownerChain(events.Owner{Kind: kind, ID: id}))
}

// ByProject returns the tokens whose explicit project list currently
// includes project, in CreatedSeq order. All-projects tokens are not
// included.
func (s *Set) ByProject(project string) []Token {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.in.strs.lookup(project)
	if !ok {
		return []Token{}
	}
	return s.tokens(s.byProject[id])
}

// All returns every token, revoked ones included, in CreatedSeq order.
func (s *Set) All() []Token {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Token, s.recs.n)
	for i := range out {
		out[i] = s.token(uint32(i))
	}
	return out
}

// Due returns the tokens whose expiry passed at now and for which no
// token.expired was recorded yet, excluding revoked ones, ordered by
// ExpiresAt then CreatedSeq. The expiry scheduler appends token.expired for
// each.
func (s *Set) Due(now time.Time) []Token {
	s.mu.RLock()
	var out []Token
	s.pending.each(func(i uint32) {
		if t := s.token(i); !now.Before(t.ExpiresAt) {
			out = append(out, t)
		}
	})
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Token) int {
		if c := a.ExpiresAt.Compare(b.ExpiresAt); c != 0 {
			return c
		}
		return cmp.Compare(a.CreatedSeq, b.CreatedSeq)
	})
	return out
}

func sortBySeq(ts []Token) {
	slices.SortFunc(ts, func(a, b Token) int { return cmp.Compare(a.CreatedSeq, b.CreatedSeq) })
}
