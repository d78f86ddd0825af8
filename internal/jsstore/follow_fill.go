package jsstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Follow's consumer and its stand-ins. A Follow reads with an ordered
// consumer, a single in-memory copy on one node of the cluster: when that
// node dies, the consumer is gone and only missed idle heartbeats tell
// (followHeartbeat, twice). Meanwhile a command's read-your-writes wait
// must not hang on it: a reader that waits for a sequence says so with
// [Store.Want], and a Follow whose consumer has delivered nothing for
// fillAfter while that sequence is missing reads the missing events itself
// with Direct Get (any replica answers) and delivers them in order; the
// consumer skips what was delivered. A consumer that is merely behind (a
// replay, a burst) is left alone. A consumer that fell silent while the stream had events for
// it is replaced at once, without the client library's back-off. A
// consumer known lost, by missed heartbeats, its deletion or a reconnect
// of the connection (the client library then recreates it, which waits
// for the cluster during an election), is not waited for: a wanted
// sequence is read at once until the consumer delivers again.
//
// followHeartbeat is the ordered consumer's idle heartbeat: the client
// library recreates a consumer after two missed ones (5 s each by
// default). A variable so that a test can take that way out.
var followHeartbeat = time.Second

// orderedInactive is how long the server keeps an ordered consumer that
// no client pulls from. A consumer is left behind when its deletion fails
// (the client library deletes the old one when it recreates it, and
// Follow when it replaces it; during an election neither may be
// answered): it then goes after this, not after the client library's 5
// minutes. A consumer in use always has a pull request waiting.
const orderedInactive = 10 * time.Second

// fillAfter is how long a wanted sequence may stay undelivered by a
// consumer not known lost before Follow reads it with Direct Get. A
// variable so that a test can make that way out too long to take.
var fillAfter = 250 * time.Millisecond

const (
	// fillBatch is the most events one fill asks for.
	fillBatch = 256
	// replaceAfter is how long after a fill a consumer may still deliver
	// nothing, while fills go on delivering for it, before Follow
	// replaces it.
	replaceAfter = 2 * time.Second
	// lostRefill is the pause between fills for a consumer known lost
	// when the last fill found nothing (the replica that answered had not
	// stored the wanted sequence yet, or none answered).
	lostRefill = 20 * time.Millisecond
	// replaceTimeout bounds the creation of a replacement consumer.
	replaceTimeout = 2 * time.Second
)

// wants tells the running Follows which sequence a reader waits for.
type wants struct {
	mu   sync.Mutex
	seq  uint64
	subs map[chan struct{}]struct{}
}

// Want says a reader waits for every event up to seq to be delivered by
// Follow (a command's read-your-writes wait): a Follow whose consumer has
// not delivered it soon reads it with Direct Get. It never blocks; it
// implements projections.Wanter.
func (s *Store) Want(seq uint64) {
	w := &s.wants
	w.mu.Lock()
	defer w.mu.Unlock()
	if seq > w.seq {
		w.seq = seq
	}
	for ch := range w.subs {
		select {
		case ch <- struct{}{}:
		default: // one signal pending is enough
		}
	}
}

func (w *wants) subscribe() chan struct{} {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.subs == nil {
		w.subs = map[chan struct{}]struct{}{}
	}
	w.subs[ch] = struct{}{}
	return ch
}

func (w *wants) unsubscribe(ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.subs, ch)
}

func (w *wants) wanted() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seq
}

// fillWanted runs beside a Follow (d) until stop is closed or ctx ends,
// then calls done: on each [Store.Want] beyond what d delivered, it waits
// fillAfter, and if the sequence is still missing reads it (and what lies
// before it), unless the consumer delivered something meanwhile, with
// Direct Get and passes each event to deliver (called
// under d.mu, in order, only the next sequence). When the consumer
// delivered nothing for replaceAfter since a fill, while fills went on,
// it calls replace. ch is its subscription to [Store.Want] and
// reconnects the connection's reconnect count, both taken before d's
// consumer was created: a reconnect since resets that consumer.
func (s *Store) fillWanted(ctx context.Context, d *delivery, ch chan struct{}, reconnects uint64, deliver func(seq uint64, subject string, data []byte), replace func(), stop <-chan struct{}, done func()) {
	defer done()
	defer s.wants.unsubscribe(ch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var firstFill time.Time // first fill since the consumer last delivered
	empty := false          // the last fill delivered nothing
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-ch:
		}
		want := s.wants.wanted()
		d.mu.Lock()
		behind := !d.done && d.last < want
		d.mu.Unlock()
		if !behind {
			continue
		}
		if r := s.js.Conn().Stats().Reconnects; r != reconnects {
			reconnects = r // the client library resets the consumer
			d.markLost()
		}
		lost := d.consumerLost()
		if wait := fillAfter; !lost || empty {
			if lost {
				wait = lostRefill // the replica that answered lacked it
			}
			timer.Reset(wait)
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		if !lost && d.consumerSilentFor() < fillAfter {
			// Delivering, only behind (a replay, a burst): no help needed;
			// look again later.
			if s.wants.wanted() > d.lastDelivered() {
				s.wantAgain(ch)
			}
			continue
		}
		filled, err := s.fill(ctx, d, want, deliver)
		empty = err != nil || filled == 0
		if err == nil && filled > 0 {
			switch {
			case firstFill.IsZero() || d.consumerDeliveredSince(firstFill):
				firstFill = time.Now() // the first fill the consumer did not follow
			case time.Since(firstFill) >= replaceAfter:
				replace()
				firstFill = time.Time{}
			}
		}
		if s.wants.wanted() > d.lastDelivered() {
			s.wantAgain(ch) // not (all) stored yet as far as the replica that answered knows
		}
	}
}

// wantAgain re-signals ch so that the fill loop looks again.
func (s *Store) wantAgain(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// fill reads the events after d's last delivered one up to want with
// Direct Get and delivers the contiguous ones; it returns how many it
// delivered. A gap is left to the consumer and the stall watch, which
// report it.
func (s *Store) fill(ctx context.Context, d *delivery, want uint64, deliver func(uint64, string, []byte)) (int, error) {
	from := d.lastDelivered() + 1
	if from > want {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.js.Options().DefaultTimeout)
	defer cancel()
	n := int(min(want-from+1, fillBatch))
	msgs, err := s.directBatch(ctx, "", from, n)
	if errors.Is(err, errNoMessages) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return d.deliverFilled(msgs, deliver), nil
}

// deliverFilled passes msgs to deliver while each is d's next sequence.
func (d *delivery) deliverFilled(msgs []*jetstream.RawStreamMsg, deliver func(uint64, string, []byte)) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, m := range msgs {
		if d.done || m.Sequence != d.last+1 {
			break
		}
		deliver(m.Sequence, m.Subject, m.Data)
		n++
	}
	return n
}

func (d *delivery) lastDelivered() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

// consumerDeliveredSince reports whether the consumer delivered a message
// at or after t.
func (d *delivery) consumerDeliveredSince(t time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.consumerAt.Before(t)
}

// consumerSilentFor is how long the consumer delivered nothing (not even
// an event a fill delivered before it).
func (d *delivery) consumerSilentFor() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return time.Since(d.consumerAt)
}

// consumerLost reports whether err, passed to the ordered consumer's
// error handler, says the consumer is gone and the client library
// recreates it: missed heartbeats (its node died), deleted, not found, or
// no server answering for it.
func consumerLost(err error) bool {
	return errors.Is(err, jetstream.ErrNoHeartbeat) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
		errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, nats.ErrNoResponders)
}

// markLost records that the consumer is known lost now.
func (d *delivery) markLost() { d.lostAt.Store(time.Now().UnixNano()) }

// consumerLost reports whether the consumer was known lost after it last
// delivered a message.
func (d *delivery) consumerLost() bool {
	lost := d.lostAt.Load()
	if lost == 0 {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return lost >= d.consumerAt.UnixNano()
}
