package jsstore

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// A read of decoded events (Replay, Follow) runs in two stages: the
// consumer's goroutine reads each message, decodes its envelope (and runs
// the caller's prepare on it) and queues it; a goroutine of its own
// decodes the payload and calls fn on the queued events, one at a time
// and in stream order. So decoding
// the next events overlaps applying the previous ones on a second CPU.
// Whatever ends the read from the reading side (a gap, an unreadable or
// misfiled message, the target reached) is queued behind the events
// before it: fn sees every event up to it, in order, and the read ends
// with it only then, naming its sequence as before.

const (
	// applyQueueMax bounds the events decoded ahead of fn: the reading
	// side waits while this many are queued.
	applyQueueMax = 512
	// applyBatch is how many events the reading side queues before it
	// wakes a waiting fn goroutine when more are known to follow; the
	// last message the consumer has pending wakes it at once.
	applyBatch = 256
	// applyWakeAfter is how long the fn goroutine, waiting while more
	// messages are announced, waits for a wake before it looks at the
	// queue anyway: a safety net for a message announced as pending that
	// never arrives (the stall watch reports that; the events before it
	// are applied meanwhile). Idle, after the last announced message, it
	// waits for the next push without a timer.
	applyWakeAfter = 20 * time.Millisecond
)

// queued is one entry of an applyQueue: an event, or the end of the
// read (end set; err nil when the target was reached).
type queued struct {
	env events.Envelope
	end bool
	err error
}

// applyQueue carries decoded events from the reading goroutine to the
// one that calls fn.
type applyQueue struct {
	halted atomic.Bool // set by stop: fn is not called again
	// waiting is len(items) as of the last push or take (see behind).
	waiting atomic.Int32

	mu        sync.Mutex
	items     []queued
	spare     []queued   // the fn goroutine's last batch, reused
	stopped   bool       // guarded by mu; halted's twin
	sleeping  bool       // the fn goroutine waits for wake
	timed     bool       // … with its applyWakeAfter timer running
	announced bool       // the last push said more messages follow
	space     *sync.Cond // on mu: the reading side waits for room
	wake      chan struct{}
}

func newApplyQueue() *applyQueue {
	q := &applyQueue{wake: make(chan struct{}, 1)}
	q.space = sync.NewCond(&q.mu)
	return q
}

// push queues it, waiting while the queue is full; flush says no event
// is known to follow soon, so a waiting fn goroutine is woken now. It
// reports false, queuing nothing, once the queue was stopped.
func (q *applyQueue) push(it queued, flush bool) bool {
	q.mu.Lock()
	for len(q.items) >= applyQueueMax && !q.stopped {
		q.space.Wait()
	}
	if q.stopped {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, it)
	q.waiting.Store(int32(len(q.items)))
	q.announced = !flush && !it.end
	wake := q.sleeping && (flush || it.end || len(q.items) >= applyBatch || !q.timed)
	if wake {
		q.sleeping = false
	}
	q.mu.Unlock()
	if wake {
		q.signal()
	}
	return true
}

func (q *applyQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// stop ends the queue: push refuses from now on (a waiting push
// returns), and run calls fn no more.
func (q *applyQueue) stop() {
	q.halted.Store(true)
	q.mu.Lock()
	q.stopped = true
	q.mu.Unlock()
	q.space.Broadcast()
	q.signal()
}

// take waits for queued entries and returns them all; nil once stopped.
func (q *applyQueue) take(timer *time.Timer) []queued {
	for {
		q.mu.Lock()
		if q.stopped {
			q.mu.Unlock()
			return nil
		}
		if len(q.items) > 0 {
			batch := q.items
			q.items, q.spare = q.spare[:0], nil
			q.waiting.Store(0)
			q.mu.Unlock()
			q.space.Signal()
			return batch
		}
		q.sleeping, q.timed = true, q.announced
		timed := q.timed
		q.mu.Unlock()
		if !timed {
			<-q.wake
			continue
		}
		timer.Reset(applyWakeAfter)
		select {
		case <-q.wake:
			timer.Stop()
		case <-timer.C:
			q.mu.Lock()
			q.sleeping = false
			q.mu.Unlock()
		}
	}
}

// behind reports whether the fn goroutine lags the reading side: more
// events wait than a wake-up hands it (applyBatch), so it did not take
// them when woken. The reading side then does work it would leave to
// the fn goroutine (decoding the payload): each side takes the share
// that keeps the other busy, whichever is slower (the decoding at
// 100,000 events, the applying at a million, where the token set's
// lookups miss the caches).
func (q *applyQueue) behind() bool { return q.waiting.Load() > applyBatch }

// giveBack returns a handled batch's storage for reuse.
func (q *applyQueue) giveBack(batch []queued) {
	clear(batch) // drop the events' bytes
	q.mu.Lock()
	if q.spare == nil {
		q.spare = batch[:0]
	}
	q.mu.Unlock()
}

// run calls fn on each queued event in order until an end entry, an
// error from fn, or stop; end is called with how the read ends (not
// after stop), then the queue is stopped.
func (q *applyQueue) run(fn func(events.Envelope) error, end func(error)) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer q.stop()
	for {
		batch := q.take(timer)
		if batch == nil {
			return
		}
		for i := range batch {
			if q.halted.Load() {
				return
			}
			it := &batch[i]
			if it.end {
				end(it.err)
				return
			}
			// The payload is decoded here, on the applying side, unless
			// the reading side did it while this side lagged (behind).
			it.env.DecodePayload()
			if err := fn(it.env); err != nil {
				end(err)
				return
			}
		}
		q.giveBack(batch)
	}
}
