package jsstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/feed"
)

// FeedStreamConfig is the readers' stream in FeedAccount: a projection
// of the ledger's token events (and of the deletions of projects,
// environments, users and service accounts, which revoke tokens) that [FeedPublisher] writes (the ledger
// stream stays the only truth), audit grade (no deletes, purges or
// roll-ups), with Direct Get, and every event it stores republished on
// its own subject (with the stream's headers: Nats-Sequence,
// Nats-Subject, Ledger-Sequence, the signature, …), so that a reader
// follows live without any server-side state of its own. Any reader can
// make the server publish a stored event there too (a Direct Get answer
// goes to whatever reply subject the request names): a follower takes a
// live event only at the feed sequence it expects next and in the form
// [IsFeedWakeUp] checks, and a verifier checks its signature, so such an
// answer is at worst the stored event itself.
//
// The publisher publishes on FeedPublishPrefix.ledger.token.… (and
// FeedPublishPrefix.ledger.<kind>.<id>.deleted), subjects no reader can
// publish or subscribe to; the stream's subject transform stores each
// event without the prefix (ledger.token.…, [feed.AllSubjects]), where it
// is republished. (A stream that listened on FeedSubjects itself could not
// republish there: nats-server refuses a republish that would feed the
// stream again.)
func FeedStreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              FeedStream,
		Description:       "tokenledger token events for readers, without principals' personal data; a projection of " + DefaultStream,
		Subjects:          feedIngest(),
		SubjectTransform:  &jetstream.SubjectTransformConfig{Source: FeedPublishPrefix + ".ledger.>", Destination: "ledger.>"},
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
		RePublish:         &jetstream.RePublish{Source: "ledger.>", Destination: "ledger.>"},
		// Derived data: acknowledged once in the server's memory, written
		// to disk soon after, never fsynced per event (see feedPersist).
		PersistMode: feedPersist,
	}
}

// feedPersist is how the feed stores its events: asynchronously. The feed
// is a projection the publisher rebuilds from LEDGER, which alone is
// fsynced per event: after a crash that loses the feed's unwritten tail,
// the publisher resumes after the last event the feed kept and publishes
// the lost ones again, in ledger order, with the same feed sequences and
// the same signed bytes, so a reader that had read them sees the same
// events again. Waiting for a second fsync before a reader learns of a
// revocation would buy nothing but latency.
const feedPersist = jetstream.AsyncPersistMode

// feedIngest are the subjects the feed stream listens on: FeedPublishPrefix
// before each of the feed's subjects (the token events and the deletions
// the token set applies, [feed.AllSubjects]).
func feedIngest() []string {
	subjects := feed.AllSubjects()
	for i, s := range subjects {
		subjects[i] = FeedPublishPrefix + "." + s
	}
	return subjects
}

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
	// nats-server removes a deleted stream's files in the background: a
	// create of the same name right after can find them (10049). Retry,
	// bounded.
	for i := 0; ; i++ {
		_, err := js.CreateStream(ctx, want)
		if err == nil {
			return nil
		}
		var apiErr *jetstream.APIError
		if i >= feedCreateTries || !errors.As(err, &apiErr) || apiErr.ErrorCode != codeStreamStoreFailed {
			return fmt.Errorf("jsstore: feed: create stream %s: %w", FeedStream, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("jsstore: feed: create stream %s: %w", FeedStream, err)
		case <-time.After(feedCreatePause):
		}
	}
}

// How often and how far apart EnsureFeed tries to create the feed again
// while the server still removes the files of the one it deleted.
const (
	feedCreateTries = 100
	feedCreatePause = 20 * time.Millisecond
)

// codeStreamStoreFailed is JetStream's error code for a stream whose
// store could not be created (JSStreamStoreFailedErr).
const codeStreamStoreFailed = 10049

func feedFits(got, want jetstream.StreamConfig) bool {
	return got.PersistMode == want.PersistMode && !got.Sealed && got.MaxMsgSize == want.MaxMsgSize && got.MaxMsgsPerSubject <= 0 &&
		got.Duplicates == want.Duplicates && got.Retention == want.Retention && !got.NoAck &&
		got.DenyDelete && got.DenyPurge && got.AllowDirect && !got.AllowRollup && !got.AllowMsgTTL &&
		got.MaxAge == 0 && got.MaxMsgs <= 0 && got.MaxBytes <= 0 && got.Discard == jetstream.DiscardNew &&
		got.Storage == jetstream.FileStorage && slices.Equal(got.Subjects, want.Subjects) && len(got.Sources) == 0 &&
		got.Mirror == nil && reflect.DeepEqual(got.SubjectTransform, want.SubjectTransform) &&
		reflect.DeepEqual(got.RePublish, want.RePublish)
}

// The feed's wire contract and its follower live in the public package
// projections/feed, which services import; these names keep the ledger's
// code and tests on that one code path.
type (
	// FeedEnvelope is [feed.Envelope].
	FeedEnvelope = feed.Envelope
	// FeedActor is [feed.Actor].
	FeedActor = feed.Actor
	// FeedVia is [feed.Via].
	FeedVia = feed.Via
	// FeedEvent is [feed.Event].
	FeedEvent = feed.Event
)

// feedRequestWait bounds the publisher's requests to the feed.
const feedRequestWait = feed.DefaultRequestWait

// LedgerSequenceHeader is [feed.LedgerSequenceHeader].
const LedgerSequenceHeader = feed.LedgerSequenceHeader

// NewFeedEnvelope is env as the feed carries it ([feed.NewEnvelope]).
func NewFeedEnvelope(env *events.Envelope) FeedEnvelope { return feed.NewEnvelope(env) }

// IsFeedWakeUp is [feed.IsWakeUp].
func IsFeedWakeUp(m *nats.Msg) bool { return feed.IsWakeUp(m) }

// FollowFeed is [feed.Follow]: it calls fn, in order and without gaps, for
// every event of FeedStream from sequence from, then for every new one.
func FollowFeed(ctx context.Context, nc *nats.Conn, from uint64, fn func(FeedEvent) error) error {
	return feed.Follow(ctx, nc, from, fn)
}
