package jsstore

import (
	"context"

	"github.com/tokenledger/tokenledger/events"
)

// ReplayOn is [Store.Replay] of the events on subjects matching any of
// filters only (non-overlapping subject filters; none: every event): fn
// is called for each of them with from ≤ sequence ≤ to, in stream order,
// and the events on other subjects are not read at all. It implements
// [projections.SubjectReplayer]: the token set as of a past moment needs
// the token events and a few catalogue events, not the whole stream.
func (s *Store) ReplayOn(ctx context.Context, filters []string, from, to uint64, fn func(events.Envelope) error) error {
	if len(filters) == 0 {
		return s.Replay(ctx, from, to, fn)
	}
	if from == 0 {
		from = 1
	}
	if to < from {
		return nil
	}
	// An ordered consumer with nothing to deliver waits for ever: stop at
	// the newest event on the filters (none at or after from: done).
	newest := uint64(0)
	for _, f := range filters {
		seq, err := s.LastSequenceOn(ctx, f)
		if err != nil {
			return err
		}
		newest = max(newest, seq)
	}
	if newest < from {
		return nil
	}
	return s.consume(ctx, filters, from, min(to, newest), fn, nil, nil)
}

// EventRange calls fn with the stored bytes of every event with from ≤
// sequence ≤ to, in order, without decoding them, read with one ordered
// consumer: the fastest way through a dense run of the stream (an
// export of most of the trail). data is valid only during the call; the
// first error from fn stops it and is returned. It implements the audit
// log's RangeReader.
func (s *Store) EventRange(ctx context.Context, from, to uint64, fn func(seq uint64, data []byte) error) error {
	if from == 0 {
		from = 1
	}
	last, err := s.LastSequence(ctx)
	if err != nil {
		return err
	}
	if to = min(to, last); to < from {
		return nil
	}
	return s.consume(ctx, nil, from, to, nil, nil, func(seq uint64, _ string, data []byte) error { return fn(seq, data) })
}

// RecordRange is EventRange with each record's subject: every stored
// record with from ≤ sequence ≤ to (capped at the newest), in order, as
// stored (data valid only during the call).
func (s *Store) RecordRange(ctx context.Context, from, to uint64, fn func(seq uint64, subject string, data []byte) error) error {
	if from == 0 {
		from = 1
	}
	last, err := s.LastSequence(ctx)
	if err != nil {
		return err
	}
	if to = min(to, last); to < from {
		return nil
	}
	return s.consume(ctx, nil, from, to, nil, nil, fn)
}
