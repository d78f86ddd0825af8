package jsstore

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
)

// The feed publisher's own lane. The publisher follows the ledger with an
// ordered consumer and publishes an event once the projections accepted
// it ([FeedPublisher.Verified]): between the append's acknowledgement and
// the publish that costs the consumer's delivery (the server's consumer,
// the client's reader and dispatcher, the decoding goroutine) and a wait
// for the projections, each a goroutine hop on a loaded machine. An event
// this process appended itself needs neither: the acknowledgement says
// the ledger stored these bytes at that sequence, and the ledger signed
// them. So the Store hands its acknowledged appends to the publisher
// ([FeedPublisher.Own]), which publishes their feed events at once, in
// ledger order, when the ledger's own check of the stream ([FeedTracker],
// fed by the projections' Verify) proves that every feed event before them
// is already in the feed; otherwise, and on any error, it leaves them to
// the follow, which publishes them as before. The feed's expected last
// sequence and message id keep the two from ever publishing one event
// twice or out of order.

// appendedFunc hears of an acknowledged append: the stored messages, the
// first at sequence first and each next at the next sequence.
type appendedFunc func(first uint64, msgs []*nats.Msg)

// onAppended makes f hear of every append s makes from now on, until
// the returned stop is called (another listener set meanwhile stays).
func (s *Store) onAppended(f appendedFunc) (stop func()) {
	s.appended.Store(&f)
	return func() { s.appended.CompareAndSwap(&f, nil) }
}

// tellAppended tells the listener set by onAppended of an acknowledged
// append of msgs. A duplicate stored nothing new: not told.
func (s *Store) tellAppended(stored commands.Stored, msgs []*nats.Msg) {
	f := s.appended.Load()
	if f == nil || stored.Duplicate || stored.Seq < uint64(len(msgs)) {
		return
	}
	(*f)(stored.Seq-uint64(len(msgs))+1, msgs)
}

// FeedTracker follows the ledger's own check of its stream, event by
// event, for the feed publisher's own lane: how far the check came and
// the ledger sequence of the last feed event it saw. Wire it into the
// projections' Runner with [FeedTracker.Verify]. Safe for concurrent use;
// the zero value is ready.
type FeedTracker struct {
	// Applied, when set, is how far the projections applied the stream
	// (Runner.LastApplied): the own lane then also waits until every
	// event before its own was applied, so an event Verify accepted but
	// the Runner refused after it (a replayed copy out of its
	// aggregate's chain) holds it back as well. Set it before use.
	Applied func() uint64

	// through is the last sequence checked, stored after the feed events
	// up to it were recorded.
	through atomic.Uint64

	mu sync.Mutex
	// start is the sequence before the first event checked (nothing is
	// known of the feed events before it), 0 until one was; seen says
	// one was.
	start uint64
	seen  atomic.Bool
	// feeds holds the ledger sequences of the last feedRing feed events
	// checked, the newest at feeds[(n-1)%feedRing]; n counts them all.
	feeds [feedRing]uint64
	n     uint64
}

// feedRing is how many of the last feed events a FeedTracker remembers:
// an own append whose first event lies before all of them (the check ran
// that far ahead) is left to the follow.
const feedRing = 64

// Verify returns check (nil: accept every event) followed by recording
// the event as checked: the Runner's Verify hook.
func (t *FeedTracker) Verify(check func(events.Envelope) error) func(events.Envelope) error {
	return func(env events.Envelope) error {
		if check != nil {
			if err := check(env); err != nil {
				return err
			}
		}
		t.Checked(&env)
		return nil
	}
}

// Checked records that the ledger checked env, the event after the last
// one recorded (the Runner checks every event in stream order).
func (t *FeedTracker) Checked(env *events.Envelope) {
	if feed := fedToReaders(env); feed || !t.seen.Load() {
		t.mu.Lock()
		if !t.seen.Load() {
			t.start = env.Sequence - 1
			t.seen.Store(true)
		}
		if feed {
			t.feeds[t.n%feedRing] = env.Sequence
			t.n++
		}
		t.mu.Unlock()
	}
	t.through.Store(env.Sequence)
}

// completeBefore reports whether every feed event before seq is the one
// at feedEnd or before it: the check reached seq-1 and the last feed event
// it saw before seq is at feedEnd. It holds however far past seq the
// check already came (an own append of several events, a cascade), as
// long as that feed event is still remembered.
func (t *FeedTracker) completeBefore(seq, feedEnd uint64) bool {
	if t.through.Load()+1 < seq || (t.Applied != nil && t.Applied()+1 < seq) {
		return false
	}
	// Every event before seq was recorded (through was stored after).
	t.mu.Lock()
	defer t.mu.Unlock()
	kept := min(t.n, feedRing)
	for i := uint64(1); i <= kept; i++ {
		if at := t.feeds[(t.n-i)%feedRing]; at < seq {
			return at == feedEnd
		}
	}
	if t.n > feedRing {
		return false // the last feed event before seq is forgotten
	}
	// None checked before seq: the last one is at or before start (0
	// while nothing was checked: then seq is 1, with nothing before it).
	return t.start == feedEnd
}

// ownAppend is an acknowledged append handed to the own lane.
type ownAppend struct {
	first uint64
	msgs  []*nats.Msg
}

// ownQueue bounds the acknowledged appends waiting for the own lane; when
// it is full the follow publishes the next ones.
const ownQueue = 64

// offer hands an acknowledged append to the own lane without waiting.
func (p *FeedPublisher) offer(first uint64, msgs []*nats.Msg) {
	select {
	case p.owns <- ownAppend{first: first, msgs: msgs}:
	default:
	}
}

// ownLane publishes the appends offered until ctx ends.
func (p *FeedPublisher) ownLane(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-p.owns:
			p.publishOwn(ctx, a)
		}
	}
}

// publishOwn publishes the feed events of a, in order, when the feed
// holds every feed event before them; otherwise, or at the first error,
// it leaves them to the follow.
func (p *FeedPublisher) publishOwn(ctx context.Context, a ownAppend) {
	evs := make([]events.Envelope, 0, len(a.msgs))
	feedEvents := 0
	for i, m := range a.msgs {
		// Decoded from the stored bytes as the follow decodes them, so
		// the feed copy is the same whichever lane publishes it.
		env, err := events.Unmarshal(m.Data)
		if err != nil || !env.StoredUnder(m.Subject) {
			return
		}
		env.Sequence = a.first + uint64(i)
		if fedToReaders(&env) {
			feedEvents++
		}
		evs = append(evs, env)
	}
	if feedEvents == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	at := p.at
	if !p.following.Load() || a.first <= at.ledger || !p.Own.completeBefore(a.first, at.ledger) {
		return
	}
	for i := range evs {
		env := &evs[i]
		if !fedToReaders(env) {
			continue
		}
		if env.CheckHash() != nil {
			return // the follow logs it and leaves it out
		}
		msg, err := feedMessage(env, p.Key, at.ledger)
		if err != nil {
			return
		}
		next, err := publishFeedMessage(ctx, p.js, at.feed, msg, env.Sequence)
		if err != nil {
			// The follow publishes it, or finds the feed moved.
			p.logf(ctx, slog.LevelDebug, "the feed publisher's own lane left an event to the follow", "ledger_seq", env.Sequence, "err", err)
			return
		}
		at = feedPosition{feed: next, ledger: env.Sequence}
		p.publishedLocked(at)
	}
}
