package jsstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
)

// JetStream API error codes the store reacts to.
const (
	codeWrongLastSequence         jetstream.ErrorCode = 10071 // expectation failed
	codeWrongLastSequenceConstant jetstream.ErrorCode = 10164 // expectation failed or in flight (R>1)
	codeBatchDuplicateMsgID       jetstream.ErrorCode = 10201 // atomic batch repeats a stored msg id
	codeStorageExceeded           jetstream.ErrorCode = 10047 // storage resources exceeded
	codeMessageTooLarge           jetstream.ErrorCode = 10054 // over the stream's MaxMsgSize
	codeStreamMismatch            jetstream.ErrorCode = 10060 // another stream captured the subject
	codeMaximumMessages           jetstream.ErrorCode = 10077 // a limit was hit under DiscardNew
	codeStreamSealed              jetstream.ErrorCode = 10109 // sealed stream
)

// Append stores the events of batch atomically and returns the stream
// sequence of the last one, with Duplicate set when an earlier append with
// the same MsgIDs had stored them (a duplicate ack, or the events found
// after a conflict or a batch duplicate): nothing new was stored. It
// implements [commands.EventStore.Append].
//
// Each event goes to its envelope's subject with the headers
// Nats-Expected-Stream, Nats-Msg-Id (when MsgID is set), and the
// aggregate's expectation: Nats-Expected-Last-Subject-Sequence = Expected
// with Nats-Expected-Last-Subject-Sequence-Subject = ledger.<kind>.<id>.*
// (or the Append's ExpectedFilter when set).
// A single event is one synchronous publish. Several (at most [MaxBatch])
// are one atomic batch, all stored or none; inside a batch only the first
// event of each aggregate carries the expectation (the server's batch
// rule), so the Expected of later events of the same aggregate is ignored.
// MsgIDs must be distinct within a batch.
//
// Errors:
//   - [commands.ErrConflict] (wrapped) when an expectation failed and the
//     events were not stored by an earlier attempt with the same MsgIDs;
//     such a retried command returns the stored sequence and no error,
//     whether the server answers with a duplicate ack, a conflict (the
//     single-replica path checks the expectation before the msg id) or a
//     batch duplicate (10201).
//   - [commands.ErrUnavailable] (wrapped) when the store fails closed (see
//     [Store.Health]) or the stream refuses writes: a limit was reached
//     (10077), storage is exhausted (10047), the stream is sealed (10109),
//     another stream owns the subject (10060), or no stream answered.
//     Nothing was stored.
//   - an error for invalid envelopes (an id that is not one subject token,
//     an unsealed event, a repeated MsgID, an event over the stream's
//     MaxMsgSize): nothing was stored.
//   - any other error means the outcome is unknown, e.g. a timeout: retry
//     with the same MsgIDs inside the stream's duplicate window.
//
// Append is safe for concurrent use.
func (s *Store) Append(ctx context.Context, batch ...commands.Append) (commands.Stored, error) {
	if err := s.Health(); err != nil {
		return commands.Stored{}, fmt.Errorf("jsstore: append refused: %w: %w", commands.ErrUnavailable, err)
	}
	switch {
	case len(batch) == 0:
		return commands.Stored{}, errors.New("jsstore: append: no events")
	case len(batch) > MaxBatch:
		return commands.Stored{}, fmt.Errorf("jsstore: append: %d events in one batch, at most %d can be stored atomically", len(batch), MaxBatch)
	}
	if err := s.signBatch(batch); err != nil {
		return commands.Stored{}, err
	}
	msgs, err := s.buildMsgs(batch)
	if err != nil {
		return commands.Stored{}, err
	}
	stored, err := s.publishRetrying(ctx, batch, func(ctx context.Context) (commands.Stored, error) {
		if len(msgs) == 1 {
			ack, err := s.publishOne(ctx, msgs[0])
			if err != nil {
				return commands.Stored{}, err
			}
			// A duplicate ack carries the original sequence.
			return commands.Stored{Seq: ack.Sequence, Duplicate: ack.Duplicate}, nil
		}
		// The first message's ack is waited for with a timeout of its
		// own (the client's 5 s default), not ctx: bound it by the attempt.
		ackWait := transientAttemptTimeout
		if d, ok := ctx.Deadline(); ok {
			ackWait = max(time.Until(d), time.Millisecond)
		}
		ack, err := jetstreamext.PublishMsgBatch(ctx, s.js, msgs, jetstreamext.BatchFlowControl{AckFirst: true, AckTimeout: ackWait})
		if err != nil {
			return commands.Stored{}, err
		}
		// A batch repeating a stored msg id is refused (10201), never
		// acked as a duplicate: failed finds the earlier append.
		return commands.Stored{Seq: ack.Sequence}, nil
	})
	if err != nil {
		return s.failed(ctx, batch, err)
	}
	s.tellAppended(stored, msgs)
	return stored, nil
}

// buildMsgs validates the envelopes and turns them into messages.
func (s *Store) buildMsgs(batch []commands.Append) ([]*nats.Msg, error) {
	msgs := make([]*nats.Msg, len(batch))
	var expected map[string]bool // filters that already carry an expectation
	var ids map[string]bool
	if len(batch) > 1 {
		expected = make(map[string]bool, len(batch))
		ids = make(map[string]bool, len(batch))
	}
	for i := range batch {
		a := &batch[i]
		env := &a.Event
		if err := checkEnvelope(env); err != nil {
			return nil, err
		}
		data, err := events.Marshal(env)
		if err != nil {
			return nil, fmt.Errorf("jsstore: append: %w", err)
		}
		filter := events.AggregateFilter(env.AggregateKind, env.AggregateID)
		if a.ExpectedFilter != "" {
			filter = a.ExpectedFilter
		}
		h := make(nats.Header, 4)
		h.Set(jetstream.ExpectedStreamHeader, s.name)
		if a.MsgID != "" {
			if ids != nil {
				if ids[a.MsgID] {
					return nil, fmt.Errorf("jsstore: append: msg id %q appears twice in one batch", a.MsgID)
				}
				ids[a.MsgID] = true
			}
			h.Set(jetstream.MsgIDHeader, a.MsgID)
		}
		if expected == nil || !expected[filter] {
			if filter == ledgerSubjects {
				// The whole stream: its last sequence, which a clustered
				// leader checks against the appends in flight too; a
				// wildcard subject expectation is checked against the
				// applied messages only, so an append proposed but not yet
				// applied on another subject slipped past it.
				h.Set(jetstream.ExpectedLastSeqHeader, strconv.FormatUint(a.Expected, 10))
			} else {
				h.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(a.Expected, 10))
				h.Set(jetstream.ExpectedLastSubjSeqSubjHeader, filter)
			}
			if expected != nil {
				expected[filter] = true
			}
		}
		msgs[i] = &nats.Msg{Subject: env.Subject(), Header: h, Data: data}
	}
	return msgs, nil
}

// checkEnvelope refuses envelopes whose subject would not be one literal
// subject under the aggregate's filter: a dot or wildcard in an id would
// let a write slip past the optimistic-concurrency check.
func checkEnvelope(env *events.Envelope) error {
	for _, f := range []struct{ what, v string }{
		{"aggregate kind", env.AggregateKind},
		{"aggregate id", env.AggregateID},
		{"event name", events.EventName(env.Type)},
	} {
		if err := checkToken(f.what, f.v); err != nil {
			return fmt.Errorf("jsstore: append event %s: %w", env.ID, err)
		}
	}
	if env.Hash == "" {
		return fmt.Errorf("jsstore: append event %s (%s): envelope is not sealed", env.ID, env.Type)
	}
	return nil
}

// checkToken reports whether v can be one token of a literal subject.
func checkToken(what, v string) error {
	if v == "" {
		return fmt.Errorf("empty %s", what)
	}
	for _, r := range v {
		if r == '.' || r == '*' || r == '>' || r <= ' ' || r == 0x7f {
			// The value is not quoted: it may be what a caller sent in
			// place of an id, a token's secret among them.
			return fmt.Errorf("%s is not a valid subject token (%d bytes)", what, len(v))
		}
	}
	return nil
}

// failed turns a publish error into the store's error contract.
func (s *Store) failed(ctx context.Context, batch []commands.Append, err error) (commands.Stored, error) {
	where := describe(batch)
	var apiErr *jetstream.APIError
	var code jetstream.ErrorCode
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode
	}
	switch code {
	case codeWrongLastSequence, codeWrongLastSequenceConstant, codeBatchDuplicateMsgID:
		// A retried command may be refused for its stale expectation
		// (single replica) or its repeated msg ids (batch) although its
		// events are stored: look for them. After a conflict they can only
		// be after the expectation; a batch retried with fresh
		// expectations has them before, so 10201 searches the whole
		// aggregate.
		seq, found, lerr := s.findStored(ctx, batch, code == codeBatchDuplicateMsgID)
		// 10201: the stream holds a msg id of the batch, stored by an
		// earlier attempt or by another ledger process running the same
		// command; the read may come from a follower that has not stored
		// it yet. Look again for a little while before giving up.
		for wait := 20 * time.Millisecond; code == codeBatchDuplicateMsgID && lerr == nil && !found &&
			wait <= 320*time.Millisecond && ctx.Err() == nil; wait *= 2 {
			time.Sleep(wait)
			seq, found, lerr = s.findStored(ctx, batch, true)
		}
		if lerr != nil {
			return commands.Stored{}, fmt.Errorf("jsstore: append %s: %w; looking for an earlier attempt failed, outcome unknown (retry with the same MsgID): %w", where, err, lerr)
		}
		if found {
			return commands.Stored{Seq: seq, Duplicate: true}, nil
		}
		if code == codeBatchDuplicateMsgID {
			// Stored, as far as the server knows, but not readable as
			// these events: the pipeline's replay check decides on the
			// retry (same command id, same msg ids).
			return commands.Stored{}, fmt.Errorf("jsstore: append %s: a msg id of the batch was stored before, but not for these events: %w: %w", where, commands.ErrOutcomeUnknown, err)
		}
		return commands.Stored{}, fmt.Errorf("jsstore: append %s: %w (%w)", where, commands.ErrConflict, err)
	case codeMessageTooLarge:
		return commands.Stored{}, fmt.Errorf("jsstore: append %s: an event exceeds the stream's maximum message size; nothing was stored: %w", where, err)
	case codeMaximumMessages, codeStorageExceeded, codeStreamSealed, codeStreamMismatch:
		return commands.Stored{}, fmt.Errorf("jsstore: append %s: stream %s refused the write: %w: %w", where, s.name, commands.ErrUnavailable, err)
	}
	if errors.Is(err, jetstream.ErrNoStreamResponse) {
		return commands.Stored{}, fmt.Errorf("jsstore: append %s: no stream answered: %w: %w", where, commands.ErrUnavailable, err)
	}
	if Refused(err) {
		return commands.Stored{}, fmt.Errorf("jsstore: append %s: the cluster cannot take writes now (leader lost or electing): %w: %w", where, commands.ErrUnavailable, err)
	}
	if TimedOut(err) {
		return commands.Stored{}, fmt.Errorf("jsstore: append %s: no acknowledgement in time, retry with the same MsgID: %w: %w", where, commands.ErrOutcomeUnknown, err)
	}
	if inProcess(err) {
		return commands.Stored{}, fmt.Errorf("jsstore: append %s: an earlier attempt is still in process, retry with the same MsgID: %w: %w", where, commands.ErrOutcomeUnknown, err)
	}
	return commands.Stored{}, fmt.Errorf("jsstore: append %s: outcome unknown, retry with the same MsgID: %w", where, err)
}

func describe(batch []commands.Append) string {
	a := &batch[0]
	filter := events.AggregateFilter(a.Event.AggregateKind, a.Event.AggregateID)
	if len(batch) == 1 {
		return fmt.Sprintf("to %s expecting %d", filter, a.Expected)
	}
	return fmt.Sprintf("batch of %d events (first to %s expecting %d)", len(batch), filter, a.Expected)
}

// findStored looks for every event of batch by its MsgID among the events
// its aggregate got after the batch's expectation (or among all its events
// when whole is set). It reports the sequence of the batch's last event
// when all were found. Events without a MsgID cannot be recognised: then
// it reports not found.
func (s *Store) findStored(ctx context.Context, batch []commands.Append, whole bool) (uint64, bool, error) {
	type aggregate struct {
		from uint64
		want map[string]bool
	}
	aggs := make(map[string]*aggregate)
	var order []string
	for i := range batch {
		a := &batch[i]
		if a.MsgID == "" {
			return 0, false, nil
		}
		filter := events.AggregateFilter(a.Event.AggregateKind, a.Event.AggregateID)
		g := aggs[filter]
		if g == nil {
			g = &aggregate{from: a.Expected + 1, want: make(map[string]bool)}
			if whole {
				g.from = 1
			}
			aggs[filter] = g
			order = append(order, filter)
		}
		g.want[a.MsgID] = true
	}
	found := make(map[string]uint64, len(batch))
	for _, filter := range order {
		g := aggs[filter]
		left := len(g.want)
		err := s.scan(ctx, filter, g.from, func(m *jetstream.RawStreamMsg) error {
			if id := m.Header.Get(jetstream.MsgIDHeader); g.want[id] {
				if _, dup := found[id]; !dup {
					found[id] = m.Sequence
					left--
				}
			}
			if left == 0 {
				return errStopScan
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopScan) {
			return 0, false, err
		}
	}
	if len(found) != len(batch) {
		return 0, false, nil
	}
	return found[batch[len(batch)-1].MsgID], true, nil
}

// LastSequenceOn returns the stream sequence of the newest event on a
// subject filter (wildcards allowed), 0 when there is none. It implements
// [commands.FilterSequencer]: with it a command reads the expectation of a
// rule about a set of aggregates before reading their states.
func (s *Store) LastSequenceOn(ctx context.Context, filter string) (uint64, error) {
	msg, err := s.stream.GetLastMsgForSubject(ctx, filter)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("jsstore: last sequence on %s: %w", filter, unavailable(err))
	}
	return msg.Sequence, nil
}
