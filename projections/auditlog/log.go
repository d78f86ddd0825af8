package auditlog

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/google/uuid"

	"github.com/tokenledger/tokenledger/events"
)

// AllProjects is the project recorded for events of an all-projects token
// (Unleash's notation). A query for a named project does not match it.
const AllProjects = events.AllProjects

// MaxSequence is the highest stream sequence the log indexes: its
// sequence sets hold 32-bit numbers (4.29 billion events).
const MaxSequence = math.MaxUint32

// Entry is one event as the audit trail shows it: the stored envelope,
// read from the stream, with its stream sequence.
type Entry struct {
	Seq         uint64
	Time        time.Time
	EventID     string
	Type        string
	Version     int
	Kind        string
	AggregateID string
	CommandID   string
	Actor       events.Actor
	Via         events.Via
	Reason      string
	Data        json.RawMessage // the payload as stored, whatever its type
	Prev        string
	Hash        string
	// Format, Key and Sig are the stored form and the ledger's signature
	// of Hash (event format 2; zero for older events).
	Format int
	Key    string
	Sig    string
}

// EntryOf is the entry of a stored envelope.
func EntryOf(env events.Envelope) Entry {
	return Entry{Seq: env.Sequence, Time: env.Time, EventID: env.ID, Type: env.Type, Version: env.Version,
		Kind: env.AggregateKind, AggregateID: env.AggregateID, CommandID: env.CommandID, Actor: env.Actor,
		Via: env.Via, Reason: env.Reason, Data: env.Data, Prev: env.Prev, Hash: env.Hash,
		Format: env.Format, Key: env.Key, Sig: env.Sig}
}

// Reader reads stored events back from the stream; the JetStream store
// (internal/jsstore) implements it. The log keeps no payload in memory:
// pages and exports read their events through it.
type Reader interface {
	// Events returns the stored events at seqs (ascending, distinct), in
	// that order, each with its Sequence set. A sequence with no stored
	// event is an error.
	Events(ctx context.Context, seqs []uint64) ([]events.Envelope, error)
	// Aggregate returns every stored event of aggregate id, ascending by
	// sequence; kind "" means an aggregate of any kind with that id.
	Aggregate(ctx context.Context, kind, id string) ([]events.Envelope, error)
}

// Log is the audit log's index. Create one with [New]; the zero value is
// not usable. A Log is safe for concurrent use: any number of goroutines
// may query it while one goroutine applies events.
//
// It holds, per event, its time (8 bytes) and its membership in a few
// compressed sequence sets (roaring bitmaps): one set per event type,
// aggregate kind, actor id, actor name, credential, project and
// environment. Per token it holds the index of the token's scope (projects,
// environment, type) among the distinct scopes seen, to annotate later
// events of the token. Events of one aggregate are found through the
// stream's own subject index (Reader.Aggregate).
type Log struct {
	mu     sync.RWMutex
	reader Reader
	last   uint64

	base  uint64  // sequence of times[0]; 0 before the first event
	times []int64 // event time (Unix ns) by sequence-base; a gap holds gapTime
	// Per block of blockSize positions: the least event time in the block,
	// and the greatest time in it and every block before (a running
	// maximum, non-decreasing): the time → sequence index.
	blockMin, runMax []int64
	present          *roaring.Bitmap // every sequence applied

	byType, byKind, byActor, byActorName, byCredential, byProject, byEnv map[string]*roaring.Bitmap

	// What the log remembers of each token: an index into scopes.
	tokens      map[[16]byte]uint32
	otherTokens map[string]uint32 // token ids that are not UUIDs
	scopes      []scope
	scopeIndex  map[string]uint32
}

// scope is what token events carry over from the token's earlier events.
type scope struct {
	projects    []string
	environment string
	tokenType   string
}

const (
	blockSize = 256
	gapTime   = math.MinInt64
)

// New returns an empty Log reading payloads through r. r may be nil for a
// log that is only applied to and counted (a page or an export then fails).
func New(r Reader) *Log {
	return &Log{
		reader:       r,
		present:      roaring.New(),
		byType:       map[string]*roaring.Bitmap{},
		byKind:       map[string]*roaring.Bitmap{},
		byActor:      map[string]*roaring.Bitmap{},
		byActorName:  map[string]*roaring.Bitmap{},
		byCredential: map[string]*roaring.Bitmap{},
		byProject:    map[string]*roaring.Bitmap{},
		byEnv:        map[string]*roaring.Bitmap{},
		tokens:       map[[16]byte]uint32{},
		otherTokens:  map[string]uint32{},
		scopes:       []scope{{}},
		scopeIndex:   map[string]uint32{"": 0},
	}
}

// LastApplied is the stream sequence of the last event applied (0 before
// the first).
func (l *Log) LastApplied() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.last
}

// Len is the number of events recorded.
func (l *Log) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return int(l.present.GetCardinality())
}

// Apply records one event, which must come from the stream in order. An
// event at or below [Log.LastApplied] was recorded already and is ignored.
// Every other event is recorded, whatever its kind, type, version or
// payload: a payload the log cannot decode is indexed only with what the
// log already knew of its token. The errors are an event without a stream
// sequence (0), which cannot be ordered, and one beyond [MaxSequence].
func (l *Log) Apply(env events.Envelope) error {
	if env.Sequence == 0 {
		return fmt.Errorf("auditlog: apply %s event %s: no stream sequence", env.Type, env.ID)
	}
	if env.Sequence > MaxSequence {
		return fmt.Errorf("auditlog: apply %s event %s: sequence %d beyond the log's %d", env.Type, env.ID, env.Sequence, uint64(MaxSequence))
	}
	var p events.Payload
	if env.AggregateKind == events.KindToken && (env.Type == events.TypeTokenCreated || env.Type == events.TypeTokenScoped) {
		p, _ = env.Payload() // undecodable: indexed from memory
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if env.Sequence <= l.last {
		return nil
	}
	seq := uint32(env.Sequence)
	l.addTime(env.Sequence, nanos(env.Time))
	l.present.Add(seq)
	add := func(idx map[string]*roaring.Bitmap, key string) {
		if key == "" {
			return
		}
		bm := idx[key]
		if bm == nil {
			bm = roaring.New()
			idx[strings.Clone(key)] = bm // the envelope's strings may share a large buffer
		}
		bm.Add(seq)
	}
	add(l.byType, env.Type)
	add(l.byKind, env.AggregateKind)
	add(l.byActor, env.Actor.ID)
	if env.Actor.Name != env.Actor.ID {
		add(l.byActorName, env.Actor.Name)
	}
	add(l.byCredential, env.Via.CredentialID)
	projects, environment := l.annotate(&env, p)
	add(l.byEnv, environment)
	for i, proj := range projects {
		if !slices.Contains(projects[:i], proj) { // index each sequence once
			add(l.byProject, proj)
		}
	}
	l.last = env.Sequence
	return nil
}

// addTime records the time of the event at seq, which is above l.last.
func (l *Log) addTime(seq uint64, t int64) {
	if l.base == 0 {
		l.base = seq
	}
	for uint64(len(l.times))+l.base < seq { // a gap in the stream
		l.pushTime(gapTime)
	}
	l.pushTime(t)
}

func (l *Log) pushTime(t int64) {
	pos := len(l.times)
	l.times = append(l.times, t)
	if t == gapTime {
		t = math.MaxInt64 // a gap lowers no block minimum
	}
	if pos%blockSize == 0 {
		prev := int64(math.MinInt64)
		if n := len(l.runMax); n > 0 {
			prev = l.runMax[n-1]
		}
		l.blockMin = append(l.blockMin, t)
		l.runMax = append(l.runMax, prev)
	}
	b := len(l.blockMin) - 1
	l.blockMin[b] = min(l.blockMin[b], t)
	if t != math.MaxInt64 {
		l.runMax[b] = max(l.runMax[b], t)
	}
}

// annotate returns the projects and environment event env touches, and
// updates what the log remembers of env's token. Token events touch their
// token's projects and environment (token.scoped: the projects lost and
// kept); project and environment events their aggregate.
func (l *Log) annotate(env *events.Envelope, p events.Payload) ([]string, string) {
	switch env.AggregateKind {
	case events.KindProject:
		return []string{env.AggregateID}, ""
	case events.KindEnvironment:
		return nil, env.AggregateID
	case events.KindToken:
	default:
		return nil, ""
	}
	cur := l.scopes[l.tokenScope(env.AggregateID)]
	switch p := p.(type) {
	case events.TokenCreated:
		s := scope{projects: p.Projects, environment: p.Environment, tokenType: p.TokenType}
		if p.AllProjects {
			s.projects = []string{AllProjects}
		}
		l.setTokenScope(env.AggregateID, s)
		return s.projects, s.environment
	case events.TokenScoped:
		touched := union(cur.projects, p.PreviousProjects, p.Projects)
		l.setTokenScope(env.AggregateID, scope{projects: p.Projects, environment: cur.environment, tokenType: cur.tokenType})
		return touched, cur.environment
	}
	return cur.projects, cur.environment
}

func (l *Log) tokenScope(id string) uint32 {
	if u, err := uuid.Parse(id); err == nil && len(id) == 36 {
		return l.tokens[u]
	}
	return l.otherTokens[id]
}

func (l *Log) setTokenScope(id string, s scope) {
	key := scopeKey(s)
	i, ok := l.scopeIndex[key]
	if !ok {
		i = uint32(len(l.scopes))
		s.projects = cloneStrings(s.projects)
		s.environment, s.tokenType = strings.Clone(s.environment), strings.Clone(s.tokenType)
		l.scopes = append(l.scopes, s)
		l.scopeIndex[key] = i
	}
	if u, err := uuid.Parse(id); err == nil && len(id) == 36 {
		l.tokens[u] = i
		return
	}
	l.otherTokens[strings.Clone(id)] = i
}

// scopeKey is s's key in scopeIndex.
func scopeKey(s scope) string {
	return strings.Join(s.projects, "\x00") + "\x01" + s.environment + "\x01" + s.tokenType
}

func cloneStrings(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.Clone(s)
	}
	return out
}

// union is the distinct strings of the lists, in order of first appearance.
func union(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		for _, s := range l {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// timeAt is the time of the event at seq (the caller holds l.mu), or
// gapTime for a sequence the log has not recorded.
func (l *Log) timeAt(seq uint64) int64 {
	if seq < l.base || seq-l.base >= uint64(len(l.times)) {
		return gapTime
	}
	return l.times[seq-l.base]
}

// TimeOf returns the time of the event at seq, and false when the log has
// no event there.
func (l *Log) TimeOf(seq uint64) (time.Time, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	t := l.timeAt(seq)
	if t == gapTime {
		return time.Time{}, false
	}
	return time.Unix(0, t).UTC(), true
}

// SeqAt is the greatest sequence s such that every event up to s happened
// at or before t (the longest prefix of the stream at or before t), or 0.
func (l *Log) SeqAt(t time.Time) uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if len(l.times) == 0 {
		return 0
	}
	tn := nanos(t)
	// The first block whose running maximum passes t holds the first event
	// after t; every block before it is at or before t.
	b, _ := slices.BinarySearchFunc(l.runMax, tn, func(m, tn int64) int {
		if m > tn {
			return 1
		}
		return -1
	})
	pos := b * blockSize
	for ; pos < len(l.times); pos++ {
		if l.times[pos] != gapTime && l.times[pos] > tn {
			break
		}
	}
	if pos == 0 {
		return 0
	}
	return l.base + uint64(pos) - 1
}
