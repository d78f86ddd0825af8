package auditlog

import (
	"sort"
	"strings"
	"time"
)

// Page sizes of [Log.Query].
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Query selects entries. Every set field must match (AND); the zero Query
// selects everything.
type Query struct {
	AggregateID string
	// Kind is the aggregate kind (events.Kind*), to tell apart aggregates
	// of different kinds with the same id.
	Kind string
	// ActorID matches Actor.ID: who caused the event.
	ActorID string
	// CredentialID matches Via.CredentialID: the token the actor used.
	CredentialID string
	// Project matches entries whose Projects include it (see [Entry]).
	Project     string
	Environment string
	// Type is an exact event type ("token.revoked"), or a prefix when it
	// ends in "." or "*" ("token." and "token.*" match every token event).
	Type string
	// Since (inclusive) and Until (exclusive) bound Entry.Time; zero means
	// unbounded. Event times come from the ledger's clocks and are not
	// strictly ordered by sequence, so they filter rather than seek.
	Since, Until time.Time
	// After is the cursor: only entries with Seq > After. Pass the next
	// value of the previous page.
	After uint64
	// Limit is the page size: DefaultLimit when ≤ 0, at most MaxLimit.
	Limit int
}

// Query returns the entries matching q, ascending by sequence, at most one
// page. next is the cursor for the following page (pass it as q.After), or
// 0 when there are no more matching entries. Paging with next visits every
// matching entry exactly once, also while events are being applied.
//
// Query walks the smallest index among the set filters (aggregate, actor,
// credential, project, environment, type); only a query with none of them
// scans the log.
func (l *Log) Query(q Query) (entries []Entry, next uint64) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	typ, prefix := strings.CutSuffix(q.Type, "*")
	prefix = prefix || strings.HasSuffix(typ, ".")

	l.mu.RLock()
	defer l.mu.RUnlock()
	// The first position after the cursor.
	start := sort.Search(len(l.entries), func(i int) bool { return l.entries[i].Seq > q.After })
	it := l.plan(q, typ, prefix, start)
	entries = make([]Entry, 0, min(limit, it.size()))

	match := func(e *Entry) bool {
		return (q.AggregateID == "" || e.AggregateID == q.AggregateID) &&
			(q.Kind == "" || e.Kind == q.Kind) &&
			(q.ActorID == "" || e.Actor.ID == q.ActorID) &&
			(q.CredentialID == "" || e.Via.CredentialID == q.CredentialID) &&
			(q.Environment == "" || e.Environment == q.Environment) &&
			(q.Project == "" || contains(e.Projects, q.Project)) &&
			(typ == "" || e.Type == typ || prefix && strings.HasPrefix(e.Type, typ)) &&
			(q.Since.IsZero() || !e.Time.Before(q.Since)) &&
			(q.Until.IsZero() || e.Time.Before(q.Until))
	}
	for {
		pos, ok := it.next()
		if !ok {
			return entries, 0
		}
		e := &l.entries[pos]
		if !match(e) {
			continue
		}
		if len(entries) == limit {
			// One more match exists: the page is full and not the last.
			return entries, entries[len(entries)-1].Seq
		}
		entries = append(entries, *e)
	}
}

// plan picks the iterator over the fewest candidate positions ≥ start.
func (l *Log) plan(q Query, typ string, prefix bool, start int) *iter {
	var best *iter
	consider := func(lists ...[]int) {
		it := newIter(start, lists)
		if best == nil || it.size() < best.size() {
			best = it
		}
	}
	if q.AggregateID != "" {
		consider(l.byAggregate[q.AggregateID])
	}
	if q.ActorID != "" {
		consider(l.byActor[q.ActorID])
	}
	if q.CredentialID != "" {
		consider(l.byCredential[q.CredentialID])
	}
	if q.Project != "" {
		consider(l.byProject[q.Project])
	}
	if q.Environment != "" {
		consider(l.byEnv[q.Environment])
	}
	if typ != "" {
		if !prefix {
			consider(l.byType[typ])
		} else {
			var lists [][]int
			for t, ps := range l.byType {
				if strings.HasPrefix(t, typ) {
					lists = append(lists, ps)
				}
			}
			consider(lists...)
		}
	}
	if best == nil {
		return &iter{scan: true, pos: start, end: len(l.entries)}
	}
	return best
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// iter yields ascending positions: either a scan of [pos, end) or the
// k-way merge of ascending position lists (one per exact type under a type
// prefix; one list otherwise). The lists are disjoint.
type iter struct {
	scan     bool
	pos, end int

	lists [][]int // the remaining part of each list
}

func newIter(start int, lists [][]int) *iter {
	it := &iter{}
	for _, ps := range lists {
		i := sort.SearchInts(ps, start)
		if i < len(ps) {
			it.lists = append(it.lists, ps[i:])
		}
	}
	return it
}

// size is how many positions the iterator will yield.
func (it *iter) size() int {
	if it.scan {
		return it.end - it.pos
	}
	n := 0
	for _, ps := range it.lists {
		n += len(ps)
	}
	return n
}

func (it *iter) next() (int, bool) {
	if it.scan {
		if it.pos >= it.end {
			return 0, false
		}
		it.pos++
		return it.pos - 1, true
	}
	best := -1
	for i, ps := range it.lists {
		if len(ps) > 0 && (best < 0 || ps[0] < it.lists[best][0]) {
			best = i
		}
	}
	if best < 0 {
		return 0, false
	}
	p := it.lists[best][0]
	it.lists[best] = it.lists[best][1:]
	return p, true
}
