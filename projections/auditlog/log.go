package auditlog

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// AllProjects is the project recorded for events of an all-projects token
// (Unleash's notation). A query for a named project does not match it.
const AllProjects = events.AllProjects

// Entry is one event as the audit log records it.
//
// Projects, Environment and TokenType describe the token a token event is
// about (for token.scoped, Projects holds both the old and the new
// projects); for project and environment events, Projects or Environment
// is the aggregate itself. They are empty for other events.
//
// Data and Projects are shared with the log: callers must not mutate them.
type Entry struct {
	Seq         uint64
	Time        time.Time
	EventID     string
	Type        string
	Kind        string
	AggregateID string
	Actor       events.Actor
	Via         events.Via
	Reason      string
	Data        json.RawMessage // the payload as stored, whatever its type
	Projects    []string
	Environment string
	TokenType   string
}

// Log is the audit log. Create one with [New]; the zero value is not
// usable. A Log is safe for concurrent use: any number of goroutines may
// query it while one goroutine applies events.
type Log struct {
	mu      sync.RWMutex
	last    uint64
	entries []Entry // ascending by Seq

	// Indexes: key → ascending positions in entries.
	byAggregate  map[string][]int
	byActor      map[string][]int
	byCredential map[string][]int
	byProject    map[string][]int
	byEnv        map[string][]int
	byType       map[string][]int

	tokens map[string]tokenInfo // what the log remembers of each token
}

// tokenInfo is what token events carry over from the token's earlier events.
type tokenInfo struct {
	projects    []string
	environment string
	tokenType   string
}

// New returns an empty Log.
func New() *Log {
	return &Log{
		byAggregate:  map[string][]int{},
		byActor:      map[string][]int{},
		byCredential: map[string][]int{},
		byProject:    map[string][]int{},
		byEnv:        map[string][]int{},
		byType:       map[string][]int{},
		tokens:       map[string]tokenInfo{},
	}
}

// LastApplied is the stream sequence of the last event applied (0 before
// the first).
func (l *Log) LastApplied() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.last
}

// Len is the number of entries.
func (l *Log) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.entries)
}

// Apply records one event, which must come from the stream in order. An
// event at or below [Log.LastApplied] was recorded already and is ignored.
// Every other event is recorded, whatever its kind, type, version or
// payload: a payload the log cannot decode is kept raw and annotated only
// with what the log already knew of its token. The only error is an event
// without a stream sequence (0), which cannot be ordered.
func (l *Log) Apply(env events.Envelope) error {
	if env.Sequence == 0 {
		return fmt.Errorf("auditlog: apply %s event %s: no stream sequence", env.Type, env.ID)
	}
	e := Entry{
		Seq:         env.Sequence,
		Time:        env.Time,
		EventID:     env.ID,
		Type:        env.Type,
		Kind:        env.AggregateKind,
		AggregateID: env.AggregateID,
		Actor:       env.Actor,
		Via:         env.Via,
		Reason:      env.Reason,
		// The envelope's buffer may be reused by its reader.
		Data: slices.Clone(env.Data),
	}
	var p events.Payload
	if env.AggregateKind == events.KindToken {
		p, _ = env.Payload() // undecodable: recorded raw, annotated from memory
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if env.Sequence <= l.last {
		return nil
	}
	l.annotate(&e, p)
	pos := len(l.entries)
	l.entries = append(l.entries, e)
	add := func(idx map[string][]int, key string) {
		if key != "" {
			idx[key] = append(idx[key], pos)
		}
	}
	add(l.byAggregate, e.AggregateID)
	add(l.byActor, e.Actor.ID)
	add(l.byCredential, e.Via.CredentialID)
	add(l.byEnv, e.Environment)
	add(l.byType, e.Type)
	for i, proj := range e.Projects {
		if !slices.Contains(e.Projects[:i], proj) { // index each position once
			add(l.byProject, proj)
		}
	}
	l.last = env.Sequence
	return nil
}

// annotate fills e's Projects, Environment and TokenType, and updates what
// the log remembers of e's token.
func (l *Log) annotate(e *Entry, p events.Payload) {
	switch e.Kind {
	case events.KindProject:
		e.Projects = []string{e.AggregateID}
		return
	case events.KindEnvironment:
		e.Environment = e.AggregateID
		return
	case events.KindToken:
	default:
		return
	}
	info := l.tokens[e.AggregateID]
	switch p := p.(type) {
	case events.TokenCreated:
		info = tokenInfo{projects: slices.Clone(p.Projects), environment: p.Environment, tokenType: p.TokenType}
		if p.AllProjects {
			info.projects = []string{AllProjects}
		}
		e.Projects = info.projects
	case events.TokenScoped:
		// The event touches the projects lost and the projects kept.
		e.Projects = union(info.projects, p.PreviousProjects, p.Projects)
		info.projects = slices.Clone(p.Projects)
	default:
		e.Projects = info.projects
	}
	e.Environment, e.TokenType = info.environment, info.tokenType
	l.tokens[e.AggregateID] = info
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

// History returns every entry of one aggregate id, ascending by sequence.
// Aggregate ids of different kinds may coincide (a user "7" and a project
// "7"); use [Log.Query] with Kind to tell them apart.
func (l *Log) History(aggregateID string) []Entry {
	l.mu.RLock()
	defer l.mu.RUnlock()
	ps := l.byAggregate[aggregateID]
	out := make([]Entry, len(ps))
	for i, p := range ps {
		out[i] = l.entries[p]
	}
	return out
}
