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

// IsWakeUp reports whether m, received on one of [AllSubjects], has the form of the
// feed's republished wake-up: no data, the stored subject and the message
// size in headers, the subject it arrived on equal to the stored one, and
// no Nats-Num-Pending. Any reader can send a Direct Get with a reply
// subject there, and JetStream publishes the answer there to every
// subscriber of the reader's account: such a message carries the event's
// data (and a batch answer Nats-Num-Pending), so it fails this check. Even
// a wake-up is only a hint that the feed may have grown: read the events
// with Direct Get ([Follow]), never from a live message.
func IsWakeUp(m *nats.Msg) bool {
	h := m.Header
	return len(m.Data) == 0 && h != nil && h.Get(jetstream.StreamHeader) == Stream &&
		h.Get(jetstream.SubjectHeader) == m.Subject && h.Get("Nats-Msg-Size") != "" &&
		h.Get(jetstream.SequenceHeader) != "" && h.Get(directget.NumPendingHeader) == ""
}

// Follow calls fn, in order and without gaps, for every event of [Stream]
// from sequence from (1 for all), then for every new one, until ctx ends
// or fn returns an error: a [Follower] with its defaults.
func Follow(ctx context.Context, nc *nats.Conn, from uint64, fn func(Event) error) error {
	f := Follower{Conn: nc, From: from}
	return f.Run(ctx, fn)
}

// Follower follows the feed with a reader's permissions only, leaving no
// state on the server: the live messages only wake it up (and only those
// of [IsWakeUp]'s form: a forged one costs no request); every event is
// read with Direct Get batches from the next sequence, so none is missed
// or delivered twice.
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
	onWake := func(m *nats.Msg) {
		if !IsWakeUp(m) {
			return
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
	for {
		for { // catch up
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
				ls, _ := strconv.ParseUint(m.Header.Get(LedgerSequenceHeader), 10, 64)
				ev := Event{Sequence: m.Sequence, LedgerSequence: ls, Subject: m.Subject, Data: m.Data,
					KeyID: m.Header.Get(KeyHeader), Signature: m.Header.Get(SignatureHeader), Previous: m.Header.Get(PreviousHeader)}
				if err := fn(ev); err != nil {
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
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-f.Wake:
		case <-tick.C:
		}
	}
}

func (f *Follower) caughtUp(at time.Time) {
	if f.CaughtUp != nil {
		f.CaughtUp(at)
	}
}
