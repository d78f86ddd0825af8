package auditlog

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// RawReader is an optional Reader capability: the stored bytes of events
// by sequence, not decoded (jsstore.Store.EventBytes). An export whose
// lines are the stored events needs nothing else.
type RawReader interface {
	EventBytes(ctx context.Context, seqs []uint64, fn func(seq uint64, data []byte) error) error
}

// RangeReader is an optional Reader capability: the stored bytes of every
// event in a range of sequences, in order (jsstore.Store.EventRange, one
// ordered consumer). ScanRaw reads a dense selection this way.
type RangeReader interface {
	EventRange(ctx context.Context, from, to uint64, fn func(seq uint64, data []byte) error) error
}

// ErrNoRawReader is returned by ScanRaw when the log's Reader cannot read
// stored bytes, or for a query ScanRaw does not serve (one aggregate's
// events: use Scan).
var ErrNoRawReader = fmt.Errorf("auditlog: no raw reader for this query")

// ScanRaw is Scan without decoding: fn gets each matching event's stored
// bytes, in order (q.Desc: newest first), read in chunks of chunk events
// (MaxLimit when ≤ 0). data is valid only during the call. Queries of one
// aggregate (q.AggregateID) are Scan's.
func (l *Log) ScanRaw(ctx context.Context, q Query, chunk int, fn func(seq uint64, data []byte) error) (through uint64, err error) {
	rr, ok := l.reader.(RawReader)
	if !ok || q.AggregateID != "" {
		return 0, ErrNoRawReader
	}
	if chunk <= 0 {
		chunk = MaxLimit
	}
	sel := l.selectSeqs(q)
	if rr, ok := l.reader.(RangeReader); ok && !q.Desc && dense(sel) {
		return sel.through, l.scanRange(ctx, rr, sel, chunk, fn)
	}
	var it iterator
	buf := make([]uint64, 0, chunk+1)
	type line struct {
		seq  uint64
		data []byte
	}
	var rev []line // a descending chunk, read ascending
	for {
		seqs, next := l.take(sel, chunk, &it)
		buf = append(buf[:0], seqs...)
		if len(buf) > 0 {
			if q.Desc {
				slices.Reverse(buf)
				rev = rev[:0]
				err = rr.EventBytes(ctx, buf, func(seq uint64, data []byte) error {
					rev = append(rev, line{seq, data})
					return nil
				})
				for i := len(rev) - 1; err == nil && i >= 0; i-- {
					err = fn(rev[i].seq, rev[i].data)
				}
			} else {
				err = rr.EventBytes(ctx, buf, fn)
			}
			if err != nil {
				return sel.through, fmt.Errorf("auditlog: read events: %w", err)
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

// dense reports whether sel holds at least half of the sequences between
// its first and last: reading them all in order and dropping the others
// is then cheaper than asking for each run.
func dense(sel selection) bool {
	if sel.set == nil || sel.set.IsEmpty() {
		return false
	}
	lo, hi := uint64(sel.set.Minimum()), uint64(sel.set.Maximum())
	return sel.set.GetCardinality()*2 >= hi-lo+1
}

// errRangeDone stops a range read once every selected event was visited.
var errRangeDone = errors.New("auditlog: range read done")

// scanRange is ScanRaw of an ascending dense selection: one range read
// from its first to its last sequence, passing fn the selected events
// (those take yields, chunk at a time, time bounds included).
func (l *Log) scanRange(ctx context.Context, rr RangeReader, sel selection, chunk int, fn func(uint64, []byte) error) error {
	var it iterator
	cur, more := l.take(sel, chunk, &it)
	if len(cur) == 0 {
		return nil
	}
	i := 0
	err := rr.EventRange(ctx, cur[0], uint64(sel.set.Maximum()), func(seq uint64, data []byte) error {
		if seq < cur[i] {
			return nil // not selected
		}
		if seq > cur[i] {
			return fmt.Errorf("no stored event at sequence %d", cur[i])
		}
		if err := fn(seq, data); err != nil {
			return err
		}
		if i++; i < len(cur) {
			return nil
		}
		if more == 0 {
			return errRangeDone
		}
		cur, more = l.take(sel, chunk, &it)
		i = 0
		if len(cur) == 0 {
			return errRangeDone
		}
		return ctx.Err()
	})
	switch {
	case errors.Is(err, errRangeDone):
		return nil
	case err != nil:
		return fmt.Errorf("auditlog: read events: %w", err)
	case i < len(cur):
		return fmt.Errorf("auditlog: read events: no stored event at sequence %d", cur[i])
	}
	return nil
}
