package jsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
)

// FeedStreamConfig is the readers' stream in FeedAccount: a projection
// of the ledger's token events that [FeedPublisher] writes (the ledger
// stream stays the only truth), audit grade (no deletes, purges or
// roll-ups), with Direct Get, and a wake-up for every event it stores: its
// headers (Nats-Sequence, Nats-Subject, Nats-Msg-Size, Ledger-Sequence, …)
// republished on its own subject, without the event, so that a reader
// follows live without any server-side state of its own. The live subject
// carries no data because any reader can make the server publish there: a
// Direct Get answer goes to whatever reply subject the request names
// ([IsFeedWakeUp]).
//
// The publisher publishes on FeedPublishPrefix.ledger.token.…, a subject
// no reader can publish or subscribe to; the stream's subject transform
// stores each event on ledger.token.… (FeedSubjects), where its wake-up is
// republished. (A stream that listened on FeedSubjects itself could not
// republish there: nats-server refuses a republish that would feed the
// stream again.)
func FeedStreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              FeedStream,
		Description:       "tokenledger token events for readers, without principals' personal data; a projection of " + DefaultStream,
		Subjects:          []string{feedIngest},
		SubjectTransform:  &jetstream.SubjectTransformConfig{Source: feedIngest, Destination: FeedSubjects},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardNew,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		MaxMsgSize:        MaxMsgSize,
		MaxMsgsPerSubject: -1,
		Replicas:          1,
		Duplicates:        feedDuplicates,
		DenyDelete:        true,
		DenyPurge:         true,
		AllowDirect:       true,
		RePublish:         &jetstream.RePublish{Source: FeedSubjects, Destination: FeedSubjects, HeadersOnly: true},
	}
}

// feedIngest is the subject filter the feed stream listens on.
const feedIngest = FeedPublishPrefix + "." + FeedSubjects

// feedDuplicates is the feed's duplicate window: a publisher that retries
// an event (or a second publisher racing it) within it is answered with
// the stored copy's sequence.
const feedDuplicates = 2 * time.Minute

// EnsureFeed creates FeedStream through nc, the connection of FeedUser
// (with nats.CustomInboxPrefix(FeedInboxPrefix)), or checks an existing
// one. A feed whose subjects, republish or audit settings differ from
// [FeedStreamConfig] (a mirror from an older version included) is deleted
// and created again, with a log line on log (may be nil): it holds nothing
// but a projection of the ledger, which [FeedPublisher] writes again.
func EnsureFeed(ctx context.Context, nc *nats.Conn, log Logger) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jsstore: feed: %w", err)
	}
	want := FeedStreamConfig()
	st, err := js.Stream(ctx, FeedStream)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
	case err != nil:
		return fmt.Errorf("jsstore: feed: stream %s: %w", FeedStream, err)
	case feedFits(st.CachedInfo().Config, want):
		return nil
	default:
		got := st.CachedInfo().Config
		why := "its configuration differs"
		if got.Mirror != nil {
			why = "it is a mirror of the ledger (older versions), which copies the principals' personal data"
		}
		if log != nil {
			log.Log(ctx, slog.LevelWarn, "deleting the readers' feed stream to rebuild it: "+why+"; it held only copies of ledger events, which the ledger publishes again",
				"stream", FeedStream, "messages", st.CachedInfo().State.Msgs)
		}
		if err := js.DeleteStream(ctx, FeedStream); err != nil {
			return fmt.Errorf("jsstore: feed: replace misconfigured stream %s: %w", FeedStream, err)
		}
	}
	if _, err := js.CreateStream(ctx, want); err != nil {
		return fmt.Errorf("jsstore: feed: create stream %s: %w", FeedStream, err)
	}
	return nil
}

func feedFits(got, want jetstream.StreamConfig) bool {
	return !got.Sealed && got.MaxMsgSize == want.MaxMsgSize && got.MaxMsgsPerSubject <= 0 &&
		got.Duplicates == want.Duplicates && got.Retention == want.Retention && !got.NoAck &&
		got.DenyDelete && got.DenyPurge && got.AllowDirect && !got.AllowRollup && !got.AllowMsgTTL &&
		got.MaxAge == 0 && got.MaxMsgs <= 0 && got.MaxBytes <= 0 && got.Discard == jetstream.DiscardNew &&
		got.Storage == jetstream.FileStorage && slices.Equal(got.Subjects, want.Subjects) && len(got.Sources) == 0 &&
		got.Mirror == nil && reflect.DeepEqual(got.SubjectTransform, want.SubjectTransform) &&
		reflect.DeepEqual(got.RePublish, want.RePublish)
}

// FeedEnvelope is a token event as the feed carries it: the stored
// envelope without the acting principal's personal data. It keeps what a
// service following tokens needs: the event (id, type, schema version,
// aggregate, time, data, the ledger's reason code and command id) and who
// acted as a kind and an id and through which credential (type and public
// id). It leaves out the actor's name and the request's remote address,
// user agent and request id; and the hash chain (prev, hash), which is
// computed over the stored bytes and would not verify over these. An
// allow-list: a field added to [events.Envelope] does not reach readers
// until it is added here.
type FeedEnvelope struct {
	ID            string          `json:"id"`
	Type          string          `json:"type"`
	Version       int             `json:"v"`
	AggregateKind string          `json:"kind"`
	AggregateID   string          `json:"aggregate"`
	Time          time.Time       `json:"time"`
	CommandID     string          `json:"command,omitempty"`
	Actor         FeedActor       `json:"actor"`
	Via           FeedVia         `json:"via"`
	Reason        string          `json:"reason,omitempty"`
	Data          json.RawMessage `json:"data"`
}

// FeedActor is the acting principal of a feed event: its kind and id.
type FeedActor struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// FeedVia is the credential a feed event's actor used: its type and
// public id.
type FeedVia struct {
	CredentialID   string `json:"credentialId,omitempty"`
	CredentialType string `json:"credentialType,omitempty"`
}

// NewFeedEnvelope is env as the feed carries it.
func NewFeedEnvelope(env *events.Envelope) FeedEnvelope {
	return FeedEnvelope{ID: env.ID, Type: env.Type, Version: env.Version, AggregateKind: env.AggregateKind,
		AggregateID: env.AggregateID, Time: env.Time, CommandID: env.CommandID,
		Actor:  FeedActor{Kind: env.Actor.Kind, ID: env.Actor.ID},
		Via:    FeedVia{CredentialID: env.Via.CredentialID, CredentialType: env.Via.CredentialType},
		Reason: env.Reason, Data: feedData(env)}
}

// feedData is the event's payload re-encoded from its decoded form, so
// that only the payload type's own fields reach readers (bytes edited into
// a stored event's data do not), or the stored bytes when this build does
// not know the payload.
func feedData(env *events.Envelope) json.RawMessage {
	p, err := env.Payload()
	if err != nil || p == nil {
		return env.Data
	}
	b, err := json.Marshal(p)
	if err != nil {
		return env.Data
	}
	return b
}

// LedgerSequenceHeader is the header of every feed event that holds its
// sequence in the ledger stream.
const LedgerSequenceHeader = "Ledger-Sequence"

// FeedEvent is one token event as a reader receives it: its sequence in
// FeedStream (pass the last one handled + 1 to [FollowFeed] to resume),
// its sequence in the ledger (LedgerSequence, for correlating with the
// ledger's X-Ledger-Sequence answers and audit log; the ledger's
// sequences have gaps where other events are), its subject and the
// [FeedEnvelope] encoded as JSON.
type FeedEvent struct {
	Sequence       uint64
	LedgerSequence uint64
	Subject        string
	Data           []byte
}

// feedBatch is how many events one catch-up Direct Get asks for;
// feedPoll how often a follower checks for events even without a live
// one (a live message can be dropped on a slow connection).
const (
	feedBatch       = 256
	feedPoll        = 5 * time.Second
	feedRequestWait = 10 * time.Second
)

// IsFeedWakeUp reports whether m, received on FeedSubjects, has the form
// of FeedStream's republished wake-up: no data, the stored subject and
// the message size in headers, the subject it arrived on equal to the
// stored one, and no Nats-Num-Pending. Any reader can send a Direct Get
// with a reply subject in FeedSubjects, and JetStream publishes the answer
// there to every follower: such a message carries the event's data (and
// a batch answer Nats-Num-Pending), so it fails this check. Even a wake-up
// is only a hint that the feed may have grown: read the events with
// Direct Get, never from a live message.
func IsFeedWakeUp(m *nats.Msg) bool {
	h := m.Header
	return len(m.Data) == 0 && h != nil && h.Get(jetstream.StreamHeader) == FeedStream &&
		h.Get(jetstream.SubjectHeader) == m.Subject && h.Get("Nats-Msg-Size") != "" &&
		h.Get(jetstream.SequenceHeader) != "" && h.Get(numPendingHeader) == ""
}

// FollowFeed calls fn, in order and without gaps, for every event of
// FeedStream from sequence from (1 for all), then for every new one, until
// ctx ends or fn returns an error. It needs only a reader's permissions
// and leaves no state on the server: the live messages only wake it up
// (and only those of [IsFeedWakeUp]'s form: a forged one costs no
// request); every event is read with Direct Get batches from the next
// sequence, so none is missed or delivered twice. Resume after a restart
// by passing the last sequence handled + 1.
func FollowFeed(ctx context.Context, nc *nats.Conn, from uint64, fn func(FeedEvent) error) error {
	if from == 0 {
		from = 1
	}
	wake := make(chan struct{}, 1)
	sub, err := nc.Subscribe(FeedSubjects, func(m *nats.Msg) {
		if !IsFeedWakeUp(m) {
			return
		}
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return fmt.Errorf("jsstore: follow feed: subscribe %s: %w", FeedSubjects, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.FlushTimeout(feedRequestWait); err != nil {
		return fmt.Errorf("jsstore: follow feed: %w", err)
	}
	tick := time.NewTicker(feedPoll)
	defer tick.Stop()
	next := from
	for {
		for { // catch up
			rctx, cancel := context.WithTimeout(ctx, feedRequestWait)
			msgs, err := directBatch(rctx, nc, "$JS.API.", FeedStream, "", next, feedBatch)
			cancel()
			if errors.Is(err, errNoMessages) {
				break
			}
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("jsstore: follow feed from %d: %w", next, err)
			}
			for _, m := range msgs {
				if m.Sequence < next {
					continue
				}
				ls, _ := strconv.ParseUint(m.Header.Get(LedgerSequenceHeader), 10, 64)
				if err := fn(FeedEvent{Sequence: m.Sequence, LedgerSequence: ls, Subject: m.Subject, Data: m.Data}); err != nil {
					return err
				}
				next = m.Sequence + 1
			}
			// A batch is cut short at directMaxBytes; the server tells how
			// many events remain after its last one.
			if msgs[len(msgs)-1].Header.Get(numPendingHeader) == "0" {
				break
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-tick.C:
		}
	}
}
