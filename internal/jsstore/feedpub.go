package jsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
)

// FeedPublisher keeps FeedStream a projection of the ledger's token
// events: it follows the ledger stream's token events (an ordered
// consumer, like Store.Follow) and publishes a
// [FeedEnvelope] of every stored token event, in ledger order, to the
// feed. Only stored events reach the feed: an append the ledger refused
// (a conflict, a limit) is never followed.
//
// Each publish carries Ledger-Sequence (the event's sequence in the
// ledger), Nats-Msg-Id ledger-<sequence> and Nats-Expected-Last-Sequence
// (the feed's last sequence as the publisher knows it): the feed is
// gap-free and in ledger order even when two publishers (two ledger
// processes on one server) race. When the expectation fails, the
// publisher reads the feed's last event and resumes after its
// Ledger-Sequence; it starts (and restarts) the same way.
type FeedPublisher struct {
	// Store is the ledger the feed follows.
	Store *Store
	// Conn is FeedUser's connection (see [EnsureFeed]).
	Conn *nats.Conn
	// Log receives a line when publishing fails and is retried; nil
	// discards it.
	Log Logger
	// RetryWait is the longest pause between attempts after an error
	// (default 30s; the first pause is a second or RetryWait if shorter).
	RetryWait time.Duration

	following atomic.Bool
	last      atomic.Uint64
}

// Following reports whether the publisher is following the ledger now
// (false before it starts and while it waits to retry after an error).
func (p *FeedPublisher) Following() bool { return p.following.Load() }

// LastLedgerSequence is the ledger sequence of the newest event the feed
// holds, as the publisher last saw it (0 for an empty feed).
func (p *FeedPublisher) LastLedgerSequence() uint64 { return p.last.Load() }

// feedPosition is where the feed ends: its last sequence and the ledger
// sequence of that event (both 0 for an empty feed).
type feedPosition struct {
	feed, ledger uint64
}

// errFeedMoved: another publisher wrote to the feed; resume after its
// last event.
var errFeedMoved = errors.New("the feed moved")

// Run publishes until ctx ends; it returns ctx.Err(). Errors (the ledger
// or the feed unavailable, the feed's disk cap reached) are logged and
// retried: the feed lags, the ledger is not affected.
func (p *FeedPublisher) Run(ctx context.Context) error {
	js, err := jetstream.New(p.Conn)
	if err != nil {
		return fmt.Errorf("jsstore: feed publisher: %w", err)
	}
	maxWait := p.RetryWait
	if maxWait <= 0 {
		maxWait = 30 * time.Second
	}
	wait := min(time.Second, maxWait)
	for {
		err := p.run(ctx, js)
		p.following.Store(false)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errFeedMoved) {
			continue
		}
		if p.Log != nil {
			p.Log.Log(ctx, slog.LevelWarn, "the readers' feed stopped following the ledger; retrying", "err", err, "retry_in", wait.String())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, maxWait)
	}
}

// run publishes from the feed's end until an error.
func (p *FeedPublisher) run(ctx context.Context, js jetstream.JetStream) error {
	at, err := readFeedPosition(ctx, js)
	if err != nil {
		return err
	}
	p.last.Store(at.ledger)
	p.following.Store(true)
	return p.Store.followSubject(ctx, FeedSubjects, at.ledger+1, func(env events.Envelope) error {
		if !strings.HasPrefix(env.Subject(), feedTokenPrefix) || env.Sequence <= at.ledger {
			return nil
		}
		next, err := publishFeedEvent(ctx, js, at.feed, &env)
		if err == nil {
			at = feedPosition{feed: next, ledger: env.Sequence}
			p.last.Store(at.ledger)
			return nil
		}
		if !isWrongLastSequence(err) {
			return err
		}
		now, rerr := readFeedPosition(ctx, js)
		if rerr != nil {
			return rerr
		}
		if now.ledger >= env.Sequence {
			at = now // another publisher was first; skip what it wrote
			p.last.Store(at.ledger)
			return nil
		}
		return fmt.Errorf("jsstore: feed publisher: resume after ledger sequence %d: %w", now.ledger, errFeedMoved)
	})
}

// feedTokenPrefix is the subject prefix of the events the feed carries.
const feedTokenPrefix = "ledger.token."

// publishFeedEvent publishes env's feed copy expecting the feed to end at
// last, and returns the copy's feed sequence (a duplicate's included).
func publishFeedEvent(ctx context.Context, js jetstream.JetStream, last uint64, env *events.Envelope) (uint64, error) {
	data, err := json.Marshal(NewFeedEnvelope(env))
	if err != nil {
		return 0, fmt.Errorf("jsstore: feed publisher: encode event at ledger sequence %d: %w", env.Sequence, err)
	}
	seq := strconv.FormatUint(env.Sequence, 10)
	msg := nats.NewMsg(FeedPublishPrefix + "." + env.Subject())
	msg.Data = data
	msg.Header.Set(LedgerSequenceHeader, seq)
	pctx, cancel := context.WithTimeout(ctx, feedRequestWait)
	defer cancel()
	ack, err := js.PublishMsg(pctx, msg, jetstream.WithMsgID("ledger-"+seq), jetstream.WithExpectLastSequence(last),
		jetstream.WithExpectStream(FeedStream))
	if err != nil {
		return 0, fmt.Errorf("jsstore: feed publisher: publish ledger sequence %s after feed sequence %d: %w", seq, last, err)
	}
	return ack.Sequence, nil
}

func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == codeWrongLastSequence || apiErr.ErrorCode == codeWrongLastSequenceConstant)
}

// readFeedPosition reads the feed's last event and its Ledger-Sequence.
func readFeedPosition(ctx context.Context, js jetstream.JetStream) (feedPosition, error) {
	rctx, cancel := context.WithTimeout(ctx, feedRequestWait)
	defer cancel()
	st, err := js.Stream(rctx, FeedStream)
	if err != nil {
		return feedPosition{}, fmt.Errorf("jsstore: feed publisher: stream %s: %w", FeedStream, err)
	}
	last := st.CachedInfo().State.LastSeq
	if last == 0 {
		return feedPosition{}, nil
	}
	m, err := st.GetMsg(rctx, last)
	if err != nil {
		return feedPosition{}, fmt.Errorf("jsstore: feed publisher: read feed sequence %d: %w", last, err)
	}
	ls, err := strconv.ParseUint(m.Header.Get(LedgerSequenceHeader), 10, 64)
	if err != nil || ls == 0 {
		return feedPosition{}, fmt.Errorf("jsstore: feed publisher: feed sequence %d has no valid %s header", last, LedgerSequenceHeader)
	}
	return feedPosition{feed: last, ledger: ls}, nil
}
