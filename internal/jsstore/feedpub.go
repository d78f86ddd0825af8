package jsstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/feed"
)

// FeedPublisher keeps FeedStream a projection of the ledger's token
// events: it follows the ledger stream's token events and the deletions
// of projects, environments, users and service accounts (an ordered
// consumer filtered on [feed.AllSubjects], like Store.Follow) and
// publishes a [FeedEnvelope] of each stored one, in ledger order, to the
// feed. A deletion's envelope carries the deleted aggregate's id and an
// empty payload: the token set a verifier keeps needs it to stop
// accepting the tokens acting for what was deleted at the deletion's
// sequence, as the ledger's own token set does. Only stored events reach the feed: an append the ledger refused
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
	// Verified, when set, returns nil once the ledger accepted the event
	// at seq as its own (the service passes the projections' WaitFor: the
	// key chain checked it) and an error when it never will (the
	// projections stopped, at a forged event say). No event reaches the
	// readers before it returns nil.
	Verified func(ctx context.Context, seq uint64) error
	// Key, when set, signs every feed event (feed.SignedBytes, in the
	// feed.KeyHeader and feed.SignatureHeader headers) and is announced
	// in the heartbeat: readers refuse feed events it did not sign.
	Key FeedKey
	// Heartbeat is how often the publisher announces on
	// [feed.HeartbeatSubject] how far the feed is complete, while it is
	// (default feed.DefaultHeartbeat; negative: never).
	Heartbeat time.Duration
	// Own, when set, is how far the ledger checked its stream (the
	// projections' Verify records it): the events Store appends are then
	// published as soon as their append is acknowledged, without waiting
	// for the follow or for Verified, whenever Own proves every feed event
	// before them already in the feed (see feedown.go). nil: every event
	// goes through the follow.
	Own *FeedTracker

	// mu is held while an event is published: at is where the feed ends,
	// as the follow and the own lane share it.
	mu   sync.Mutex
	at   feedPosition
	js   jetstream.JetStream
	owns chan ownAppend

	following atomic.Bool
	last      atomic.Uint64
	// handled is the ledger sequence of the last event the follow
	// handled (published, or not the feed's); feedEnd the feed's last
	// sequence as the publisher wrote or found it.
	handled atomic.Uint64
	feedEnd atomic.Uint64
	// beat asks the heartbeat loop to check now (after a publish).
	beat chan struct{}
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
	var stuckAt uint64
	p.beat = make(chan struct{}, 1)
	p.js = js
	if p.Own != nil {
		p.owns = make(chan ownAppend, ownQueue)
		lctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		unhook := p.Store.onAppended(p.offer)
		defer func() { unhook(); stop(); <-done }()
		go func() {
			defer close(done)
			p.ownLane(lctx)
		}()
	}
	if p.Heartbeat >= 0 {
		hctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		defer func() { stop(); <-done }()
		go func() {
			defer close(done)
			p.heartbeats(hctx)
		}()
	}
	for {
		err := p.run(ctx, js)
		p.following.Store(false)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errFeedMoved) && p.last.Load() != stuckAt {
			stuckAt = p.last.Load() // another publisher was first: resume after it
			continue
		}
		p.logf(ctx, slog.LevelWarn, "the readers' feed stopped following the ledger; retrying", "err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, maxWait)
	}
}

func (p *FeedPublisher) logf(ctx context.Context, level slog.Level, msg string, args ...any) {
	if p.Log != nil {
		p.Log.Log(ctx, level, msg, args...)
	}
}

// feedTrustWindow bounds how far back from the feed's end the publisher
// looks for the last event the ledger published.
const feedTrustWindow = 1000

// trustedPosition is where to resume: after the feed's actual last
// sequence, and after the ledger sequence of the newest feed event that is
// the ledger's (its id is the id of the ledger event its Ledger-Sequence
// names, and the ledger sequences before it are lower). Events planted at
// the feed's end (by whoever wrote the data dir while the ledger was
// stopped) cannot be deleted, but they no longer decide what is published
// next; each is logged at ERROR.
func (p *FeedPublisher) trustedPosition(ctx context.Context, js jetstream.JetStream, end feedPosition) (feedPosition, error) {
	if end.feed == 0 {
		return end, nil
	}
	rctx, cancel := context.WithTimeout(ctx, feedRequestWait)
	defer cancel()
	st, err := js.Stream(rctx, FeedStream)
	if err != nil {
		return feedPosition{}, fmt.Errorf("jsstore: feed publisher: stream %s: %w", FeedStream, err)
	}
	for seq := end.feed; seq > 0 && end.feed-seq < feedTrustWindow; seq-- {
		m, err := st.GetMsg(rctx, seq)
		if err != nil {
			return feedPosition{}, fmt.Errorf("jsstore: feed publisher: read feed sequence %d: %w", seq, err)
		}
		if ls, ok := p.ledgers(rctx, m); ok {
			return feedPosition{feed: end.feed, ledger: ls}, nil
		}
		p.logf(ctx, slog.LevelError, "the readers' feed holds an event the ledger did not publish (planted in the data dir?); publishing continues after the last genuine one",
			"feed_seq", seq)
	}
	if end.feed <= feedTrustWindow {
		return feedPosition{feed: end.feed}, nil // nothing genuine: publish everything after the planted events
	}
	return feedPosition{}, fmt.Errorf("jsstore: feed publisher: none of the feed's last %d events is the ledger's", feedTrustWindow)
}

// ledgers reports whether feed message m is the ledger's own copy of the
// ledger event its Ledger-Sequence names, and that sequence.
func (p *FeedPublisher) ledgers(ctx context.Context, m *jetstream.RawStreamMsg) (uint64, bool) {
	ls, err := strconv.ParseUint(m.Header.Get(LedgerSequenceHeader), 10, 64)
	if err != nil || ls == 0 {
		return 0, false
	}
	var fe struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(m.Data, &fe) != nil || fe.ID == "" {
		return 0, false
	}
	var id, subject string
	err = p.Store.Replay(ctx, ls, ls, func(env events.Envelope) error {
		id, subject = env.ID, env.Subject()
		return nil
	})
	return ls, err == nil && id == fe.ID && subject == m.Subject
}

// run publishes from the feed's end until an error.
func (p *FeedPublisher) run(ctx context.Context, js jetstream.JetStream) error {
	end, err := readFeedEnd(ctx, js)
	if err != nil {
		return err
	}
	at, err := p.trustedPosition(ctx, js, end)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.handled.Store(at.ledger)
	p.publishedLocked(at)
	p.following.Store(true)
	p.mu.Unlock()
	return p.Store.followSubject(ctx, feed.AllSubjects(), at.ledger+1, func(env events.Envelope) error {
		prev := p.feedLedgerEnd()
		if !fedToReaders(&env) || env.Sequence <= prev {
			// Not the feed's, or published by the own lane.
			p.handled.Store(max(p.handled.Load(), env.Sequence))
			return nil
		}
		// Encoded and signed while the projections check the event: the
		// work is off the path from the ledger's append to the readers.
		msg, err := feedMessage(&env, p.Key, prev)
		if err != nil {
			return err
		}
		if p.Verified != nil {
			if err := p.Verified(ctx, env.Sequence); err != nil {
				return fmt.Errorf("jsstore: feed publisher: ledger sequence %d not accepted by the ledger: %w", env.Sequence, err)
			}
		}
		if err := env.CheckHash(); err != nil {
			// Not the ledger's event as sealed (edited or forged in the
			// data dir): readers do not get it. The history route reports
			// the broken chain; later events still reach readers.
			p.logf(ctx, slog.LevelError, "a ledger event's hash does not verify: not published to the readers' feed",
				"ledger_seq", env.Sequence, "err", err)
			p.handled.Store(env.Sequence)
			return nil
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		at := p.at
		if env.Sequence <= at.ledger {
			p.handled.Store(max(p.handled.Load(), env.Sequence))
			return nil // the own lane published it meanwhile
		}
		if at.ledger != prev { // the own lane published before it: signed again
			if msg, err = feedMessage(&env, p.Key, at.ledger); err != nil {
				return err
			}
		}
		next, err := publishFeedMessage(ctx, js, at.feed, msg, env.Sequence)
		if err == nil {
			p.publishedLocked(feedPosition{feed: next, ledger: env.Sequence})
			return nil
		}
		if !isWrongLastSequence(err) {
			return err
		}
		// Another publisher (a second replica) appended: resume after its
		// last genuine event.
		return fmt.Errorf("jsstore: feed publisher: after ledger sequence %d: %w", at.ledger, errFeedMoved)
	})
}

// publishedLocked records that the feed ends at at (p.mu held).
func (p *FeedPublisher) publishedLocked(at feedPosition) {
	p.at = at
	p.last.Store(at.ledger)
	p.feedEnd.Store(at.feed)
	p.handled.Store(max(p.handled.Load(), at.ledger))
	p.poke()
}

// feedLedgerEnd is the ledger sequence of the feed's last event as the
// publisher knows it.
func (p *FeedPublisher) feedLedgerEnd() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.at.ledger
}

// fedToReaders reports whether env is an event the feed carries: a token
// event, or the deletion of a project, an environment, a user or a
// service account (the token set applies them: a token acting for what
// was deleted stops verifying). The subject filters select them; this
// checks the decoded envelope as well.
func fedToReaders(env *events.Envelope) bool {
	return strings.HasPrefix(env.Subject(), feedTokenPrefix) ||
		(feed.IsDeletion(env.Type) && env.Type == env.AggregateKind+".deleted")
}

// feedTokenPrefix is the subject prefix of the token events the feed
// carries.
const feedTokenPrefix = "ledger.token."

// feedMessage is env's feed copy as published: the envelope, its ledger
// sequence and, with key, its signature, which names prev, the ledger
// sequence of the feed event before it, as its predecessor.
func feedMessage(env *events.Envelope, key FeedKey, prev uint64) (*nats.Msg, error) {
	data, err := json.Marshal(NewFeedEnvelope(env))
	if err != nil {
		return nil, fmt.Errorf("jsstore: feed publisher: encode event at ledger sequence %d: %w", env.Sequence, err)
	}
	msg := nats.NewMsg(FeedPublishPrefix + "." + env.Subject())
	msg.Data = data
	msg.Header.Set(LedgerSequenceHeader, strconv.FormatUint(env.Sequence, 10))
	if key != nil {
		stored := env.Subject() // the subject transform stores it without the prefix
		msg.Header.Set(feed.KeyHeader, key.ID())
		msg.Header.Set(feed.PreviousHeader, strconv.FormatUint(prev, 10))
		msg.Header.Set(feed.SignatureHeader, base64.StdEncoding.EncodeToString(key.Sign(feed.ChainedSignedBytes(stored, env.Sequence, prev, data))))
	}
	return msg, nil
}

// publishFeedMessage publishes msg, the feed copy of the ledger event at
// ledgerSeq, expecting the feed to end at last, and returns the copy's
// feed sequence (a duplicate's included).
func publishFeedMessage(ctx context.Context, js jetstream.JetStream, last uint64, msg *nats.Msg, ledgerSeq uint64) (uint64, error) {
	seq := strconv.FormatUint(ledgerSeq, 10)
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

// readFeedEnd reads the feed's last sequence (0 for an empty feed).
func readFeedEnd(ctx context.Context, js jetstream.JetStream) (feedPosition, error) {
	rctx, cancel := context.WithTimeout(ctx, feedRequestWait)
	defer cancel()
	st, err := js.Stream(rctx, FeedStream)
	if err != nil {
		return feedPosition{}, fmt.Errorf("jsstore: feed publisher: stream %s: %w", FeedStream, err)
	}
	return feedPosition{feed: st.CachedInfo().State.LastSeq}, nil
}

// FeedKey is the ledger's signing key as the feed publisher uses it
// (*ledgerkey.Key).
type FeedKey interface {
	ID() string
	Sign(msg []byte) []byte
	VerifierKey() string
}

// heartbeatSpacing is the least time between two heartbeats prompted by
// publishes.
const heartbeatSpacing = 20 * time.Millisecond

// poke asks the heartbeat loop to check now.
func (p *FeedPublisher) poke() {
	select {
	case p.beat <- struct{}{}:
	default:
	}
}

// heartbeats announces on [feed.HeartbeatSubject], every Heartbeat and
// after each publish, how far the feed is complete, whenever it holds
// every feed event up to the ledger's last sequence; it falls silent
// while the publisher lags or is stopped. Runs until ctx ends.
func (p *FeedPublisher) heartbeats(ctx context.Context) {
	every := p.Heartbeat
	if every == 0 {
		every = feed.DefaultHeartbeat
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	var sent time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-p.beat:
			// After a publish: beat soon, but a burst of publishes costs
			// one check per heartbeatSpacing.
			if d := heartbeatSpacing - time.Since(sent); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
		}
		if !p.following.Load() {
			continue
		}
		hb, ok, err := p.current(ctx)
		if err != nil {
			p.logf(ctx, slog.LevelDebug, "feed heartbeat skipped", "err", err)
			continue
		}
		if !ok {
			continue
		}
		data, err := json.Marshal(hb)
		if err != nil {
			continue
		}
		msg := nats.NewMsg(feed.HeartbeatSubject)
		msg.Data = data
		if p.Key != nil { // signed: a reader can make the server publish other data on this subject
			msg.Header.Set(feed.KeyHeader, p.Key.ID())
			msg.Header.Set(feed.SignatureHeader, base64.StdEncoding.EncodeToString(p.Key.Sign(feed.HeartbeatSignedBytes(data))))
		}
		if err := p.Conn.PublishMsg(msg); err == nil {
			sent = time.Now()
		}
	}
}

// current reports the heartbeat to send when the feed holds every feed
// event up to the ledger's last sequence, and false when the publisher
// has not handled them yet.
func (p *FeedPublisher) current(ctx context.Context) (feed.Heartbeat, bool, error) {
	rctx, cancel := context.WithTimeout(ctx, feedRequestWait)
	defer cancel()
	// Read the ledger's end first, then what was handled: an event stored
	// after the end was read is not claimed.
	end, err := p.Store.LastSequence(rctx)
	if err != nil {
		return feed.Heartbeat{}, false, err
	}
	handled := p.handled.Load()
	fseq := p.feedEnd.Load()
	if handled < end {
		// Events after handled up to end that the feed does not carry
		// (name claims, principals' changes) do not hold it back.
		for _, filter := range feed.AllSubjects() {
			msgs, err := p.Store.directBatch(rctx, filter, handled+1, 1)
			if errors.Is(err, errNoMessages) {
				continue
			}
			if err != nil {
				return feed.Heartbeat{}, false, err
			}
			if msgs[0].Sequence <= end {
				return feed.Heartbeat{}, false, nil
			}
		}
	}
	hb := feed.Heartbeat{LedgerSequence: max(end, handled), FeedSequence: fseq, Time: time.Now().UTC()}
	if p.Key != nil {
		hb.VerifierKey = p.Key.VerifierKey()
	}
	return hb, true, nil
}
