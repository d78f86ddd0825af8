package jsstore

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// FeedStreamConfig is the readers' stream in FeedAccount: a mirror of the
// ledger's token events (it keeps the ledger's sequence numbers), audit
// grade (no deletes, purges or roll-ups), with Direct Get, and a wake-up
// for every event it stores: its headers (Nats-Sequence, Nats-Subject,
// Nats-Msg-Size, …) republished on its own subject, without the event, so
// that a reader follows live without any server-side state of its own.
// The live subject carries no data because any reader can make the server
// publish there: a Direct Get answer goes to whatever reply subject the
// request names ([IsFeedWakeUp]).
func FeedStreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              FeedStream,
		Description:       "tokenledger token events for readers; mirror of " + DefaultStream,
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardNew,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		MaxMsgSize:        MaxMsgSize,
		MaxMsgsPerSubject: -1,
		Replicas:          1,
		DenyDelete:        true,
		DenyPurge:         true,
		AllowDirect:       true,
		Mirror: &jetstream.StreamSource{
			Name:          DefaultStream,
			FilterSubject: FeedSubjects,
			External:      &jetstream.ExternalStream{APIPrefix: FeedAPIPrefix, DeliverPrefix: FeedDeliverPrefix},
		},
		RePublish: &jetstream.RePublish{Source: FeedSubjects, Destination: FeedSubjects, HeadersOnly: true},
	}
}

// EnsureFeed creates FeedStream through nc, the connection of FeedUser
// (with nats.CustomInboxPrefix(FeedInboxPrefix)), or checks an existing
// one. A feed whose mirror, republish or audit settings differ from
// [FeedStreamConfig] is deleted and created again: it holds nothing but a
// copy of the ledger, which the new mirror copies again.
func EnsureFeed(ctx context.Context, nc *nats.Conn) error {
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
	return got.DenyDelete && got.DenyPurge && got.AllowDirect && !got.AllowRollup && !got.AllowMsgTTL &&
		got.MaxAge == 0 && got.MaxMsgs <= 0 && got.MaxBytes <= 0 && got.Discard == jetstream.DiscardNew &&
		got.Storage == jetstream.FileStorage && len(got.Subjects) == 0 && len(got.Sources) == 0 &&
		got.Mirror != nil && got.Mirror.Name == want.Mirror.Name && got.Mirror.FilterSubject == want.Mirror.FilterSubject &&
		len(got.Mirror.SubjectTransforms) == 0 && got.Mirror.OptStartSeq == 0 && got.Mirror.OptStartTime == nil &&
		reflect.DeepEqual(got.Mirror.External, want.Mirror.External) &&
		reflect.DeepEqual(got.RePublish, want.RePublish)
}

// FeedEvent is one stored token event as a reader receives it: its
// sequence in the ledger (the feed mirror keeps the ledger's sequence
// numbers, so they have gaps where other events are), its subject and the
// envelope as stored.
type FeedEvent struct {
	Sequence uint64
	Subject  string
	Data     []byte
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
				if err := fn(FeedEvent{Sequence: m.Sequence, Subject: m.Subject, Data: m.Data}); err != nil {
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
