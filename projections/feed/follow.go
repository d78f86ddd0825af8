package feed

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/projections/feed/directget"
)

// Defaults of [Follower].
const (
	// DefaultPoll is how often a follower checks for events even without
	// a wake-up (a live message can be dropped on a slow connection).
	DefaultPoll = 5 * time.Second
	// DefaultRequestWait bounds one Direct Get batch request.
	DefaultRequestWait = 10 * time.Second
	// batchSize is how many events one catch-up request asks for.
	batchSize = 256
)

// IsWakeUp reports whether m, received on one of [AllSubjects], has the
// form of a message the feed stream republished when it stored an event:
// the stored subject in a header equal to the subject it arrived on, the
// feed's sequence, no Nats-Num-Pending, and either the stored event as
// data (a feed of this version republishes it) or no data and
// Nats-Msg-Size (older versions republished headers only). Any reader can
// send a Direct Get with a reply subject there, and JetStream publishes
// the answer there to every subscriber of the reader's account: a batch
// answer carries Nats-Num-Pending and fails this check; a single answer
// named after another subject than the event's fails it too; one that
// names the event's own subject is the stored event itself. Treat such a
// message as what it says only at the feed sequence a follower expects
// next ([Follower] does), and check its signature ([Keys.Check]).
func IsWakeUp(m *nats.Msg) bool {
	h := m.Header
	return h != nil && h.Get(jetstream.StreamHeader) == Stream &&
		h.Get(jetstream.SubjectHeader) == m.Subject && h.Get(jetstream.SequenceHeader) != "" &&
		h.Get(directget.NumPendingHeader) == "" && (len(m.Data) == 0) == (h.Get("Nats-Msg-Size") != "")
}

// Follow calls fn, in order and without gaps, for every event of [Stream]
// from sequence from (1 for all), then for every new one, until ctx ends
// or fn returns an error: a [Follower] with its defaults.
func Follow(ctx context.Context, nc *nats.Conn, from uint64, fn func(Event) error) error {
	f := Follower{Conn: nc, From: from}
	return f.Run(ctx, fn)
}

// Follower follows the feed with a reader's permissions only, leaving no
// state on the server. A live message ([IsWakeUp]'s form: a forged one
// costs nothing) that carries the event at the very feed sequence the
// follower expects next is delivered as it came; any other wakes it up,
// and it reads the feed with Direct Get batches from the next sequence,
// so no event is missed or delivered twice.
type Follower struct {
	// Conn is the reader's connection.
	Conn *nats.Conn
	// From is the first feed sequence to deliver (0 or 1 for all). Resume
	// after a restart with the last sequence handled + 1.
	From uint64
	// Poll is how often the follower reads the feed without a wake-up
	// (default DefaultPoll). It bounds how old [Follower.CaughtUp]'s last
	// call can be while the feed is reachable.
	Poll time.Duration
	// RequestWait bounds one Direct Get request (default
	// DefaultRequestWait).
	RequestWait time.Duration
	// CaughtUp, when set, is called each time the follower read the feed
	// to its end: every event stored before the moment at was delivered.
	// It is called from Run's goroutine; it should not block.
	CaughtUp func(at time.Time)
	// Wake, when set, makes the follower read the feed at once whenever
	// it receives (a heartbeat announced events it has not read yet).
	Wake <-chan struct{}
}

// Run calls fn, in order and without gaps, for every event from f.From on,
// until ctx ends (it returns ctx.Err()), fn returns an error (returned as
// is) or a request fails (the feed unreachable: returned wrapped; call
// Run again with the next sequence to resume). fn is called from Run's
// goroutine, one event at a time.
func (f *Follower) Run(ctx context.Context, fn func(Event) error) error {
	nc := f.Conn
	next := max(f.From, 1)
	poll, wait := f.Poll, f.RequestWait
	if poll <= 0 {
		poll = DefaultPoll
	}
	if wait <= 0 {
		wait = DefaultRequestWait
	}
	wake := make(chan struct{}, 1)
	live := make(chan *nats.Msg, liveBuffer)
	onWake := func(m *nats.Msg) {
		if !IsWakeUp(m) {
			return
		}
		if len(m.Data) > 0 {
			select {
			case live <- m:
				return
			default: // full: read the feed instead
			}
		}
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	for _, subj := range AllSubjects() {
		sub, err := nc.Subscribe(subj, onWake)
		if err != nil {
			return fmt.Errorf("feed: follow: subscribe %s: %w", subj, err)
		}
		defer func() { _ = sub.Unsubscribe() }()
	}
	if err := nc.FlushTimeout(wait); err != nil {
		return fmt.Errorf("feed: follow: %w", err)
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for read := true; ; {
		for read { // catch up
			asked := time.Now()
			rctx, cancel := context.WithTimeout(ctx, wait)
			msgs, err := directget.Batch(rctx, nc, "$JS.API.", Stream, "", next, batchSize)
			cancel()
			if errors.Is(err, directget.ErrNoMessages) {
				f.caughtUp(asked)
				break
			}
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("feed: follow from %d: %w", next, err)
			}
			for _, m := range msgs {
				if m.Sequence < next {
					continue
				}
				if err := fn(event(m.Sequence, m.Subject, m.Header, m.Data)); err != nil {
					return err
				}
				next = m.Sequence + 1
			}
			// A batch is cut short at directget.MaxBytes; the server tells
			// how many events remain after its last one.
			if directget.Pending(msgs[len(msgs)-1]) == "0" {
				f.caughtUp(asked)
				break
			}
		}
		read = true
		// The poll first, so that a steady stream of live events never
		// keeps the follower from reading the feed to its end (CaughtUp,
		// a verifier's staleness bound); then a live event waiting, before
		// a wake-up (a heartbeat's, say) that arrives with it makes the
		// follower ask for what it already holds.
		var m *nats.Msg
		select {
		case <-tick.C:
			continue
		default:
		}
		select {
		case m = <-live:
		default:
			select {
			case <-ctx.Done():
				return ctx.Err()
			case m = <-live:
			case <-wake:
			case <-f.Wake:
			case <-tick.C:
			}
		}
		if m == nil {
			continue
		}
		// The event the server republished as it stored it: at the
		// sequence expected next it is delivered without a request; one
		// already delivered needs nothing; after a gap, read.
		seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		switch {
		case err != nil:
		case seq < next:
			read = false
		case seq == next:
			if err := fn(event(seq, m.Subject, m.Header, m.Data)); err != nil {
				return err
			}
			next = seq + 1
			read = false
		}
	}
}

// liveBuffer is how many live events a follower holds while it applies
// others; past it, a live message only wakes it up.
const liveBuffer = 256

// event is the feed event stored at seq on subject.
func event(seq uint64, subject string, h nats.Header, data []byte) Event {
	ls, _ := strconv.ParseUint(h.Get(LedgerSequenceHeader), 10, 64)
	return Event{Sequence: seq, LedgerSequence: ls, Subject: subject, Data: data,
		KeyID: h.Get(KeyHeader), Signature: h.Get(SignatureHeader)}
}

func (f *Follower) caughtUp(at time.Time) {
	if f.CaughtUp != nil {
		f.CaughtUp(at)
	}
}
