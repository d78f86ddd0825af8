package jsstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/feed/directget"
)

// loadPageSize is how many messages one Direct Get batch request asks for.
// A variable so tests can force paging.
var loadPageSize = 512

// pullMaxBytes is the ordered consumer's window for Replay and Follow: the
// bytes of messages asked for and not yet handed to the read, refilled
// whenever it falls below half (and directget.MaxBytes caps one Direct Get
// batch), far below the embedded server's max_pending (EmbeddedMaxPending):
// the server closes a connection for which it holds more than that, the
// ledger's own included. Half the window is far more than one stored event
// (MaxMsgSize), so a refill always has room for the next.
//
// A window in bytes alone, not a count of messages capped by bytes
// (PullMaxMessagesWithBytesLimit): with that, a pull of 4,096 messages
// capped at 2 MiB ended at about 1,600 of the ledger's events, fewer than
// the half that makes the client library pull again, so each pull was
// drained to the last event before the next was asked for, and the
// server, the client and the projections took turns waiting (a third of
// a replay's time idle on two CPUs).
const pullMaxBytes = 2 << 20

// bytesOnlyBatch is how many messages nats.go asks for in each pull of a
// window in bytes alone (PullMaxBytes): its defaultBatchMaxBytesOnly.
const bytesOnlyBatch = 1_000_000

// pullWindow is the ordered consumer's pull option: the byte window, or,
// where the server bounds the messages one pull may ask for below
// bytesOnlyBatch (a cluster's jetstream { limits { max_request_batch } },
// which every pull consumer created without its own bound gets), that
// many messages capped at pullMaxBytes a pull. nats-server refuses a pull
// asking for more ("409 Exceeded MaxRequestBatch"), and nats.go would
// leave the consumer waiting for ever.
func (s *Store) pullWindow() jetstream.PullConsumeOpt {
	if n := s.requestBatch.Load(); n > 0 {
		return jetstream.PullMaxMessagesWithBytesLimit(int(n), pullMaxBytes)
	}
	return jetstream.PullMaxBytes(pullMaxBytes)
}

// errStopScan ends a scan early without an error.
var errStopScan = errors.New("stop scan")

// numPendingHeader is set by the server on every message of a Direct Get
// batch: how many matching messages remain after this one.
const numPendingHeader = directget.NumPendingHeader

// Load returns every event of the aggregate kind/id in stream order, each
// with its Sequence set; an aggregate without events yields an empty slice
// and no error. It implements [commands.EventStore.Load].
//
// Load reads with Direct Get batch requests filtered by
// ledger.<kind>.<id>.* (no consumer is created), paging when the aggregate
// has more events than one request returns (each page is a consistent
// snapshot; events appended while Load runs may or may not be included,
// never out of order). On a replicated stream Direct Get may be served by a
// replica that lags: the appends' expectations catch that (ErrConflict).
// An event that does not decode fails the Load with an error naming its
// sequence.
func (s *Store) Load(ctx context.Context, kind, id string) ([]events.Envelope, error) {
	return s.LoadAfter(ctx, kind, id, 0)
}

// LoadAfter returns the events of the aggregate kind/id with a sequence
// above after, in stream order, as [Store.Load] does (one Direct Get batch
// from after+1 on the aggregate's subject filter, paged the same way): a
// state that is up to date costs one round trip that answers "no
// messages". It implements [commands.EventStore.LoadAfter].
func (s *Store) LoadAfter(ctx context.Context, kind, id string, after uint64) ([]events.Envelope, error) {
	if err := checkToken("aggregate kind", kind); err != nil {
		return nil, fmt.Errorf("jsstore: load: %w", err)
	}
	if err := checkToken("aggregate id", id); err != nil {
		return nil, fmt.Errorf("jsstore: load: %w", err)
	}
	filter := events.AggregateFilter(kind, id)
	evs := []events.Envelope{}
	if after == math.MaxUint64 {
		return evs, nil
	}
	err := s.scan(ctx, filter, after+1, func(m *jetstream.RawStreamMsg) error {
		env, err := events.Unmarshal(m.Data)
		if err != nil {
			return fmt.Errorf("jsstore: load %s: event at sequence %d (%s): %w", filter, m.Sequence, m.Subject, err)
		}
		if !env.StoredUnder(m.Subject) {
			return misfiled(s.name, m.Sequence, m.Subject, &env)
		}
		env.Sequence = m.Sequence
		evs = append(evs, env)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return evs, nil
}

// scan calls visit for each message matching filter with sequence ≥ from,
// in order, using Direct Get batches. An error from visit stops the scan
// and is returned.
func (s *Store) scan(ctx context.Context, filter string, from uint64, visit func(*jetstream.RawStreamMsg) error) error {
	if from == 0 {
		from = 1
	}
	for {
		msgs, err := s.directBatch(ctx, filter, from, loadPageSize)
		if errors.Is(err, errNoMessages) {
			return nil // nothing (more) to read
		}
		if err != nil {
			return fmt.Errorf("jsstore: read %s from %d: %w", filter, from, unavailable(err))
		}
		var last *jetstream.RawStreamMsg
		for _, m := range msgs {
			last = m
			if err := visit(m); err != nil {
				return err
			}
		}
		pending, err := strconv.ParseUint(directget.Pending(last), 10, 64)
		if err != nil {
			return fmt.Errorf("jsstore: read %s: bad %s header at sequence %d: %w", filter, numPendingHeader, last.Sequence, err)
		}
		if pending == 0 {
			return nil
		}
		from = last.Sequence + 1 // a full page, or cut short by size or time
	}
}

// LastSequence returns the sequence of the newest stored event (0 when the
// stream is empty). It implements [projections.Source.LastSequence].
func (s *Store) LastSequence(ctx context.Context) (uint64, error) {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("jsstore: stream %s info: %w", s.name, unavailable(err))
	}
	return info.State.LastSeq, nil
}

// Replay calls fn for each event with from ≤ sequence ≤ to, in stream
// order, one call at a time, and returns nil once the event at to (or the
// newest stored when Replay started, if to is beyond it) was delivered. A
// from of 0 is read as 1; nothing is delivered when to < from. It
// implements [projections.Source.Replay].
//
// The first error from fn stops the replay and is returned as is. A
// message that does not decode as an envelope stops it with an error
// naming its sequence (nothing is skipped). fn is never called after
// Replay returned. Replay reads with an ordered consumer, deleted when it
// returns.
func (s *Store) Replay(ctx context.Context, from, to uint64, fn func(events.Envelope) error) error {
	if from == 0 {
		from = 1
	}
	if to < from {
		return nil
	}
	last, err := s.LastSequence(ctx)
	if err != nil {
		return err
	}
	target := min(to, last)
	if target < from {
		return nil
	}
	return s.consume(ctx, nil, from, target, fn, nil, nil)
}

// Follow calls fn for each event with sequence ≥ from (0 is read as 1), in
// stream order, one call at a time, and keeps following new events until
// ctx is done (it then returns ctx.Err()) or fn returns an error (returned
// as is). It implements [projections.Source.Follow].
//
// Follow reads with an ordered consumer: when the consumer is lost (missed
// heartbeats, a reconnect, the consumer deleted) it is recreated after the
// last delivered sequence, so every event is delivered once and without
// gaps. A message that does not decode stops Follow with an error naming
// its sequence. If the stream is deleted, or the connection is closed,
// Follow returns an error ([commands.ErrUnavailable] for a deleted stream).
// fn is never called after Follow returned; it should not block for long.
func (s *Store) Follow(ctx context.Context, from uint64, fn func(events.Envelope) error) error {
	if from == 0 {
		from = 1
	}
	return s.consume(ctx, nil, from, 0, fn, nil, nil)
}

// FollowPrepared is [Store.Follow] with prepare called on each event
// before fn, on the goroutine that decodes the events while fn applies
// the ones before (fn runs on a goroutine of its own in Follow too).
// prepare must only attach derived data to the event (see
// [projections.Preparer]). It implements
// [projections.PreparingSource.FollowPrepared].
func (s *Store) FollowPrepared(ctx context.Context, from uint64, prepare func(*events.Envelope), fn func(events.Envelope) error) error {
	if from == 0 {
		from = 1
	}
	return s.consume(ctx, nil, from, 0, fn, prepare, nil)
}

// ReplayPrepared is [Store.Replay] with prepare called on each event
// before fn, as [Store.FollowPrepared] does.
func (s *Store) ReplayPrepared(ctx context.Context, from, to uint64, prepare func(*events.Envelope), fn func(events.Envelope) error) error {
	if from == 0 {
		from = 1
	}
	if to < from {
		return nil
	}
	last, err := s.LastSequence(ctx)
	if err != nil {
		return err
	}
	target := min(to, last)
	if target < from {
		return nil
	}
	return s.consume(ctx, nil, from, target, fn, prepare, nil)
}

// followSubject is Follow of the events on subjects matching filters only
// (the others are not read, so an event there that does not decode does
// not stop it).
func (s *Store) followSubject(ctx context.Context, filters []string, from uint64, fn func(events.Envelope) error) error {
	if from == 0 {
		from = 1
	}
	return s.consume(ctx, filters, from, 0, fn, nil, nil)
}

// delivery serialises the consumer's callbacks into fn and records how the
// run ended.
type delivery struct {
	mu   sync.Mutex
	done bool
	last uint64 // last sequence passed to fn
	end  chan error
	// consumerAt is when the consumer last delivered a message.
	consumerAt time.Time
	// lostAt is when (Unix ns) the consumer was last known lost (see
	// follow_fill.go); no lock, the client library's callbacks set it.
	lostAt atomic.Int64
	// queue carries decoded events to fn (nil for raw reads); see fail.
	queue *applyQueue
}

// fail ends the read d with err (nil: done), d.mu held: after the events
// queued before it when fn takes them from a queue, else at once.
func (d *delivery) fail(err error) {
	d.done = true
	if d.queue != nil {
		d.queue.push(queued{end: true, err: err}, true)
		return
	}
	d.finish(err)
}

func (d *delivery) finish(err error) {
	select {
	case d.end <- err:
	default: // the first outcome wins
	}
}

// consume delivers events from from on (on subjects matching any of
// filters, all when none), decoded to fn or, when raw is set, as stored
// bytes to raw; with target > 0 it stops after the event at target (Replay),
// else it runs until ctx is done (Follow).
//
// Decoded events go through an applyQueue (see pipeline.go): decoded, and
// given to prepare when it is set, on the consumer's goroutine; fn is
// called on a goroutine of its own.
func (s *Store) consume(ctx context.Context, filters []string, from, target uint64, fn func(events.Envelope) error, prepare func(*events.Envelope), raw func(seq uint64, subject string, data []byte) error) error {
	cfg := jetstream.OrderedConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       from,
		FilterSubjects:    filters,
		InactiveThreshold: orderedInactive,
	}
	whole := len(filters) == 0 // every sequence must arrive, in order
	if whole {
		if err := s.checkState(ctx, from); err != nil {
			return err
		}
	}
	d := &delivery{last: from - 1, end: make(chan error, 1), consumerAt: time.Now()}
	var q *applyQueue
	if raw == nil {
		q = newApplyQueue()
		d.queue = q
	}
	// flushNext is false while the consumer announces more messages
	// (d.mu held): see applyQueue.push.
	flushNext := true
	// env is where deliver decodes each message (d.mu held): one
	// envelope for the whole read rather than one on the heap per event
	// (prepare takes its address); the queue keeps a copy.
	env := new(events.Envelope)
	// deliver passes the message at seq on; d.mu held, d.done false.
	deliver := func(seq uint64, subject string, data []byte) {
		if seq <= d.last {
			return // redelivered around a consumer reset, or filled before
		}
		if whole && seq != d.last+1 {
			// The stream denies deletes: a skipped sequence was removed or
			// dropped as damaged by the server.
			d.fail(&events.TamperError{Seq: d.last + 1, Kind: events.TamperGap,
				Err: fmt.Errorf("jsstore: stream %s delivered sequence %d after %d", s.name, seq, d.last)})
			return
		}
		if target > 0 && seq > target {
			d.fail(nil)
			return
		}
		if raw != nil {
			d.last = seq
			if err := raw(seq, subject, data); err != nil {
				d.done = true
				d.finish(err)
				return
			}
			if target > 0 && seq >= target {
				d.done = true
				d.finish(nil)
			}
			return
		}
		var err error
		*env, err = events.UnmarshalDeferred(data) // the payload: see applyQueue.run
		if err != nil {
			d.fail(&events.TamperError{Seq: seq, Kind: events.TamperUnreadable,
				Err: fmt.Errorf("jsstore: stream %s: event at sequence %d (%s): %w", s.name, seq, subject, err)})
			return
		}
		if !env.StoredUnder(subject) {
			d.fail(misfiled(s.name, seq, subject, env))
			return
		}
		env.Sequence = seq
		if prepare != nil {
			prepare(env)
		}
		if q.behind() {
			env.DecodePayload()
		}
		d.last = seq
		atTarget := target > 0 && seq >= target
		if !q.push(queued{env: *env}, flushNext || atTarget) {
			d.done = true
			return
		}
		if atTarget {
			d.fail(nil)
		}
		// Before target with nothing pending: the rest is missing, which
		// the stall watch confirms and reports.
	}
	handler := func(msg jetstream.Msg) {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.done {
			return
		}
		d.consumerAt = time.Now()
		seq, pending, ok := ackPosition(msg.Reply())
		if !ok {
			md, err := msg.Metadata()
			if err != nil {
				d.fail(fmt.Errorf("jsstore: read stream %s after sequence %d: message metadata: %w", s.name, d.last, err))
				return
			}
			seq, pending = md.Sequence.Stream, md.NumPending
		}
		flushNext = pending == 0
		deliver(seq, msg.Subject(), msg.Data())
		flushNext = true
	}
	// Runs under the ordered consumer's lock: must not call into it.
	errHandler := func(_ jetstream.ConsumeContext, err error) {
		if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, jetstream.ErrConnectionClosed) {
			d.finish(fmt.Errorf("jsstore: read stream %s: %w", s.name, err))
		}
		if consumerLost(err) {
			d.markLost()
		}
	}
	// start creates an ordered consumer from start on and consumes it.
	start := func(ctx context.Context, start uint64) (jetstream.Consumer, jetstream.ConsumeContext, error) {
		c := cfg
		c.OptStartSeq = start
		for range 2 {
			cons, err := s.js.OrderedConsumer(ctx, s.name, c)
			if err != nil {
				return nil, nil, fmt.Errorf("jsstore: read stream %s from %d: %w", s.name, start, err)
			}
			capped := s.requestBatch.Load() > 0
			cc, err := cons.Consume(handler, s.pullWindow(),
				jetstream.PullHeartbeat(followHeartbeat), jetstream.ConsumeErrHandler(errHandler))
			if err != nil {
				return nil, nil, fmt.Errorf("jsstore: read stream %s from %d: %w", s.name, start, err)
			}
			// Consume created the server's consumer: its bound on a
			// pull's messages is the server's. Above the byte window's
			// count, every pull was refused and nothing delivered: read
			// again with pulls that bound (the Store keeps it).
			if info := cons.CachedInfo(); !capped && info != nil && info.Config.MaxRequestBatch > 0 &&
				info.Config.MaxRequestBatch < bytesOnlyBatch {
				cc.Stop()
				s.deleteConsumer(cons)
				s.requestBatch.Store(int64(info.Config.MaxRequestBatch))
				continue
			}
			return cons, cc, nil
		}
		return nil, nil, fmt.Errorf("jsstore: read stream %s from %d: the server bounds pulls to %d messages", s.name, start, s.requestBatch.Load())
	}
	var consMu sync.Mutex // guards cons and cc, replaced by a fill
	// What fillWanted compares against is taken before the consumer
	// exists, however late its goroutine starts: the connection's
	// reconnects (one after this resets the consumer) and the wants (one
	// made meanwhile is not missed).
	reconnects := s.js.Conn().Stats().Reconnects
	var wanted chan struct{}
	if whole && target == 0 {
		wanted = s.wants.subscribe()
		s.wantAgain(wanted) // a sequence wanted before Follow began
	}
	cons, cc, err := start(ctx, from)
	if err != nil {
		if wanted != nil {
			s.wants.unsubscribe(wanted)
		}
		return err
	}
	applied := make(chan struct{})
	if q != nil {
		go func() {
			defer close(applied)
			q.run(fn, d.finish)
		}()
	} else {
		close(applied)
	}

	stopWatching := func() {}
	if whole {
		stop := make(chan struct{})
		var watching sync.WaitGroup
		stopWatching = func() {
			close(stop)
			watching.Wait()
		}
		watching.Add(1)
		go s.watchStall(ctx, d, stop, watching.Done)
		if target == 0 {
			// replace swaps a silent consumer for a new one after the last
			// delivered sequence; on failure the old one stays (the client
			// library recreates it too).
			replace := func() {
				rctx, cancel := context.WithTimeout(ctx, replaceTimeout)
				defer cancel()
				next, ncc, err := start(rctx, d.lastDelivered()+1)
				if err != nil {
					return
				}
				consMu.Lock()
				old, occ := cons, cc
				cons, cc = next, ncc
				consMu.Unlock()
				occ.Stop()
				go s.deleteConsumer(old)
				d.mu.Lock()
				d.consumerAt = time.Now()
				d.mu.Unlock()
			}
			watching.Add(1)
			go s.fillWanted(ctx, d, wanted, reconnects, deliver, replace, stop, watching.Done)
		}
	}

	var result error
	select {
	case result = <-d.end:
	case <-ctx.Done():
		result = ctx.Err()
	case <-s.deleted:
		result = fmt.Errorf("jsstore: read stream %s: %w: the stream was deleted", s.name, commands.ErrUnavailable)
	}
	// Release a delivery waiting for room in the queue, refuse further
	// deliveries, then wait for a running fn.
	if q != nil {
		q.stop()
	}
	d.mu.Lock()
	d.done = true
	d.mu.Unlock()
	<-applied
	stopWatching() // no replacement consumer after this
	consMu.Lock()
	defer consMu.Unlock()
	cc.Stop()
	s.deleteConsumer(cons)
	return result
}

// deleteConsumer removes the ordered consumer's server-side consumer now
// rather than after its inactivity threshold.
func (s *Store) deleteConsumer(cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil || info.Name == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.js.DeleteConsumer(ctx, s.name, info.Name)
}

// errNoMessages: a Direct Get found nothing matching.
var errNoMessages = directget.ErrNoMessages

// directBatch asks the stream for up to n messages matching filter from
// sequence from, in one Direct Get batch request, and returns them in
// order (at least one, or errNoMessages). It does what
// jetstreamext.GetBatch does, with a reply subscription sized to the batch:
// that one buffers 65,536 messages (half a megabyte) per call, and every
// command loads its aggregate.
func (s *Store) directBatch(ctx context.Context, filter string, from uint64, n int) ([]*jetstream.RawStreamMsg, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.js.Options().DefaultTimeout)
		defer cancel()
	}
	prefix := s.js.Options().APIPrefix
	if prefix == "" {
		prefix = "$JS.API."
	}
	// During an election no server may answer: retried within ctx.
	return s.retryNoResponders(ctx, func(ctx context.Context) ([]*jetstream.RawStreamMsg, error) {
		return directBatch(ctx, s.js.Conn(), prefix, s.name, filter, from, n)
	})
}

// directBatch is one Direct Get batch request on nc to stream (API prefix
// ending in a dot); ctx must have a deadline.
func directBatch(ctx context.Context, nc *nats.Conn, prefix, stream, filter string, from uint64, n int) ([]*jetstream.RawStreamMsg, error) {
	return directget.Batch(ctx, nc, prefix, stream, filter, from, n)
}
