package auditlog

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// Page sizes of [Log.Page].
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// ErrNoReader is returned by queries of a Log created without a [Reader].
var ErrNoReader = errors.New("auditlog: no reader of the stream")

// Query selects events. Every set field must match (AND); within a list
// field any element may match (OR). The zero Query selects everything.
type Query struct {
	// AggregateID selects the events of one aggregate (a token's id, a
	// user's id, a project's id, …); Kind narrows it to one aggregate kind
	// (events.Kind*). Kind alone selects every event of that kind.
	AggregateID string
	Kind        string
	// Actors match Actor.ID or Actor.Name: who caused the event. ActorID
	// is one more (kept for callers of one actor).
	Actors  []string
	ActorID string
	// CredentialID matches Via.CredentialID: the token the actor used.
	CredentialID string
	// Project matches events touching it: token events of a token scoped
	// to it (an all-projects token: [AllProjects]), and its own events.
	Project     string
	Environment string
	// Types are exact event types ("token.revoked"), or prefixes when
	// they end in "." or "*" ("token." and "token.*" match every token
	// event). Type is one more.
	Types []string
	Type  string
	// Since (inclusive) and Until (exclusive) bound the event's time; zero
	// means unbounded. Event times come from the ledger's clocks and are
	// not strictly ordered by sequence: they filter, the sequence orders.
	Since, Until time.Time
	// FromSeq and ToSeq bound the stream sequence, inclusive; 0 means
	// unbounded.
	FromSeq, ToSeq uint64
	// After and Before are the cursors, exclusive: pass a page's Next as
	// After when ascending, as Before when descending.
	After, Before uint64
	// Desc orders newest first.
	Desc bool
	// Limit is the page size: DefaultLimit when ≤ 0, at most MaxLimit.
	Limit int
}

// Page is one page of a query.
type Page struct {
	Entries []Entry
	// Next is the cursor of the following page (as After, or Before when
	// descending), 0 on the last page.
	Next uint64
	// Through is the log's last applied sequence when the page was chosen:
	// the page is exact as of the stream up to it.
	Through uint64
}

// selection is the in-memory answer to a query: candidate sequences in
// [lo, hi], each still to be checked against the time bounds.
type selection struct {
	set          *roaring.Bitmap // owned by the selection; nil: none match
	lo, hi       uint64
	since, until int64
	desc         bool
	through      uint64
}

// Page returns one page of the events matching q, in order, read from the
// stream. Paging with Next visits every matching event exactly once, in
// either order, also while events are being appended.
func (l *Log) Page(ctx context.Context, q Query) (Page, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	if l.reader == nil {
		return Page{}, ErrNoReader
	}
	if q.AggregateID != "" {
		return l.aggregatePage(ctx, q, limit)
	}
	sel := l.selectSeqs(q)
	seqs, next := l.take(sel, limit, nil)
	p := Page{Next: next, Through: sel.through}
	if len(seqs) == 0 {
		p.Entries = []Entry{}
		return p, nil
	}
	entries, err := l.read(ctx, seqs, q.Desc)
	if err != nil {
		return Page{}, err
	}
	p.Entries = entries
	return p, nil
}

// Scan calls fn for every event matching q (Limit is ignored), in order,
// reading from the stream in chunks of chunk events (MaxLimit when ≤ 0)
// so that memory stays flat. The set of events is fixed when Scan starts:
// it returns the last sequence the log had applied then (events after it
// are not visited). The first error from fn stops the scan.
func (l *Log) Scan(ctx context.Context, q Query, chunk int, fn func(Entry) error) (through uint64, err error) {
	if chunk <= 0 {
		chunk = MaxLimit
	}
	if l.reader == nil {
		return 0, ErrNoReader
	}
	if q.AggregateID != "" {
		q.Limit = MaxLimit
		p, err := l.aggregatePage(ctx, q, math.MaxInt)
		if err != nil {
			return 0, err
		}
		for _, e := range p.Entries {
			if err := fn(e); err != nil {
				return p.Through, err
			}
		}
		return p.Through, nil
	}
	sel := l.selectSeqs(q)
	var it iterator
	buf := make([]uint64, 0, chunk+1)
	for {
		seqs, next := l.take(sel, chunk, &it)
		buf = append(buf[:0], seqs...)
		if len(buf) > 0 {
			entries, err := l.read(ctx, buf, q.Desc)
			if err != nil {
				return sel.through, err
			}
			for _, e := range entries {
				if err := fn(e); err != nil {
					return sel.through, err
				}
			}
		}
		if next == 0 {
			return sel.through, nil
		}
		if err := ctx.Err(); err != nil {
			return sel.through, err
		}
	}
}

// read reads the events at seqs (ascending, or descending when desc) from
// the stream, in the order of seqs.
func (l *Log) read(ctx context.Context, seqs []uint64, desc bool) ([]Entry, error) {
	if desc {
		seqs = slices.Clone(seqs)
		slices.Reverse(seqs)
	}
	evs, err := l.reader.Events(ctx, seqs)
	if err != nil {
		return nil, fmt.Errorf("auditlog: read events: %w", err)
	}
	if len(evs) != len(seqs) {
		return nil, fmt.Errorf("auditlog: read events: %d events for %d sequences", len(evs), len(seqs))
	}
	out := make([]Entry, len(evs))
	for i := range evs {
		if evs[i].Sequence != seqs[i] {
			return nil, fmt.Errorf("auditlog: read events: event at %d for sequence %d", evs[i].Sequence, seqs[i])
		}
		j := i
		if desc {
			j = len(evs) - 1 - i
		}
		out[j] = EntryOf(evs[i])
	}
	return out, nil
}

// Times beyond what Unix nanoseconds hold (years 1678 to 2262).
var (
	minNanos = time.Unix(0, math.MinInt64+1)
	maxNanos = time.Unix(0, math.MaxInt64-1)
)

// nanos is t in Unix nanoseconds, clamped to what an int64 holds.
func nanos(t time.Time) int64 {
	switch {
	case t.Before(minNanos):
		return math.MinInt64 + 1
	case t.After(maxNanos):
		return math.MaxInt64 - 1
	}
	return t.UnixNano()
}

// typeMatcher reports whether an event type matches any of types; nil
// when types is empty.
func typeMatcher(types []string) func(string) bool {
	if len(types) == 0 {
		return nil
	}
	return func(t string) bool {
		for _, want := range types {
			if p, ok := strings.CutSuffix(want, "*"); ok {
				if strings.HasPrefix(t, p) {
					return true
				}
			} else if strings.HasSuffix(want, ".") {
				if strings.HasPrefix(t, want) {
					return true
				}
			} else if t == want {
				return true
			}
		}
		return false
	}
}

func (q Query) actors() []string {
	if q.ActorID == "" {
		return q.Actors
	}
	return append(slices.Clip(q.Actors), q.ActorID)
}

func (q Query) types() []string {
	if q.Type == "" {
		return q.Types
	}
	return append(slices.Clip(q.Types), q.Type)
}

// selectSeqs computes the candidate set of q (without its aggregate) in
// memory.
func (l *Log) selectSeqs(q Query) selection {
	l.mu.RLock()
	defer l.mu.RUnlock()
	sel := selection{since: math.MinInt64, until: math.MaxInt64, desc: q.Desc, through: l.last}
	if !q.Since.IsZero() {
		sel.since = nanos(q.Since)
	}
	if !q.Until.IsZero() {
		sel.until = nanos(q.Until)
	}
	sel.lo, sel.hi = 1, l.last
	if q.FromSeq > 0 {
		sel.lo = q.FromSeq
	}
	if q.After > 0 {
		// The first sequence after the cursor; none is after the largest.
		sel.lo = max(sel.lo, q.After+1)
		if q.After == math.MaxUint64 {
			sel.lo = math.MaxUint64
		}
	}
	if q.ToSeq > 0 {
		sel.hi = min(sel.hi, q.ToSeq)
	}
	if q.Before > 0 {
		sel.hi = min(sel.hi, q.Before-1)
	}
	// The time → sequence index narrows the window.
	if sel.since != math.MinInt64 && len(l.runMax) > 0 {
		b, _ := slices.BinarySearchFunc(l.runMax, sel.since, func(m, t int64) int {
			if m >= t {
				return 1
			}
			return -1
		})
		sel.lo = max(sel.lo, l.base+uint64(b*blockSize))
	}
	if sel.until != math.MaxInt64 {
		b := len(l.blockMin) - 1
		for b >= 0 && l.blockMin[b] >= sel.until {
			b--
		}
		if b < 0 {
			sel.hi = 0
		} else {
			sel.hi = min(sel.hi, l.base+uint64((b+1)*blockSize)-1)
		}
	}
	if sel.lo > sel.hi || sel.lo > MaxSequence {
		return sel
	}

	var groups []*roaring.Bitmap
	anyOf := func(idx map[string]*roaring.Bitmap, keys ...string) {
		var bms []*roaring.Bitmap
		for _, k := range keys {
			if bm := idx[k]; bm != nil {
				bms = append(bms, bm)
			}
		}
		switch len(bms) {
		case 0:
			groups = append(groups, roaring.New())
		case 1:
			groups = append(groups, bms[0])
		default:
			groups = append(groups, roaring.FastOr(bms...))
		}
	}
	if acts := q.actors(); len(acts) > 0 {
		var bms []*roaring.Bitmap
		for _, a := range acts {
			if bm := l.byActor[a]; bm != nil {
				bms = append(bms, bm)
			}
			if bm := l.byActorName[a]; bm != nil {
				bms = append(bms, bm)
			}
		}
		groups = append(groups, roaring.FastOr(append(bms, roaring.New())...))
	}
	if q.Kind != "" {
		anyOf(l.byKind, q.Kind)
	}
	if q.CredentialID != "" {
		anyOf(l.byCredential, q.CredentialID)
	}
	if q.Project != "" {
		anyOf(l.byProject, q.Project)
	}
	if q.Environment != "" {
		anyOf(l.byEnv, q.Environment)
	}
	if match := typeMatcher(q.types()); match != nil {
		var keys []string
		for t := range l.byType {
			if match(t) {
				keys = append(keys, t)
			}
		}
		anyOf(l.byType, keys...)
	}
	window := roaring.New()
	window.AddRange(sel.lo, min(sel.hi, MaxSequence)+1)
	groups = append(groups, window, l.present)
	sel.set = roaring.FastAnd(groups...)
	return sel
}

// iterator walks a selection across calls of take.
type iterator struct {
	started bool
	asc     roaring.IntPeekable
	desc    roaring.IntIterable
	// held is a value taken from the bitmap iterator but not yet used.
	held    uint32
	holding bool
}

func (it *iterator) next(desc bool) (uint32, bool) {
	if it.holding {
		it.holding = false
		return it.held, true
	}
	if desc {
		if !it.desc.HasNext() {
			return 0, false
		}
		return it.desc.Next(), true
	}
	if !it.asc.HasNext() {
		return 0, false
	}
	return it.asc.Next(), true
}

// take returns up to limit sequences of sel that pass its time bounds, in
// its order, and the cursor of the rest (0 when none remain). With it, it
// resumes where the previous take stopped.
func (l *Log) take(sel selection, limit int, it *iterator) ([]uint64, uint64) {
	if sel.set == nil {
		return nil, 0
	}
	if it == nil {
		it = &iterator{}
	}
	if !it.started {
		it.started = true
		if sel.desc {
			it.desc = sel.set.ReverseIterator()
		} else {
			it.asc = sel.set.Iterator()
		}
	}
	out := make([]uint64, 0, min(limit, 1024))
	timed := sel.since != math.MinInt64 || sel.until != math.MaxInt64
	l.mu.RLock()
	defer l.mu.RUnlock()
	for {
		v, ok := it.next(sel.desc)
		if !ok {
			return out, 0
		}
		seq := uint64(v)
		if timed {
			if t := l.timeAt(seq); t < sel.since || t >= sel.until {
				continue
			}
		}
		if len(out) == limit {
			// One more match exists: the page is full and not the last.
			it.held, it.holding = v, true
			return out, out[len(out)-1]
		}
		out = append(out, seq)
	}
}

// aggregatePage answers a query with an aggregate from the stream's index
// of that aggregate's events; the other filters are checked in memory.
func (l *Log) aggregatePage(ctx context.Context, q Query, limit int) (Page, error) {
	evs, err := l.reader.Aggregate(ctx, q.Kind, q.AggregateID)
	if err != nil {
		return Page{}, fmt.Errorf("auditlog: read aggregate %s: %w", q.AggregateID, err)
	}
	kind := q.Kind
	q.AggregateID, q.Kind = "", ""
	sel := l.selectSeqs(q)
	p := Page{Entries: []Entry{}, Through: sel.through}
	if q.Desc {
		slices.Reverse(evs)
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	for i := range evs {
		seq := evs[i].Sequence
		if sel.set == nil || !sel.set.Contains(uint32(seq)) || (kind != "" && evs[i].AggregateKind != kind) {
			continue
		}
		if t := l.timeAt(seq); t < sel.since || t >= sel.until {
			continue
		}
		if len(p.Entries) == limit {
			p.Next = p.Entries[len(p.Entries)-1].Seq
			return p, nil
		}
		p.Entries = append(p.Entries, EntryOf(evs[i]))
	}
	return p, nil
}

// Query returns one page of q, ascending unless q.Desc: the entries and
// the cursor of the next page (0 on the last). It is [Log.Page] without
// a context; an error reading the stream yields no entries.
//
// Deprecated: use [Log.Page], which reports errors.
func (l *Log) Query(q Query) ([]Entry, uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := l.Page(ctx, q)
	if err != nil {
		return nil, 0
	}
	return p.Entries, p.Next
}
