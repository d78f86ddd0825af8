package jsstore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/internal/jsstore"
)

// recordingLog keeps the warnings a FeedPublisher logs.
type recordingLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *recordingLog) Log(_ context.Context, level slog.Level, msg string, args ...any) {
	if level < slog.LevelWarn {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprint(msg, args))
}

func (l *recordingLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

// TestFeedPublisherStallIsVisible: when the feed's tail does not match the
// ledger (a planted or corrupted last message: Ledger-Sequence ahead of
// the ledger, or behind the feed's real end), the publisher stops
// publishing token events. The stall must at least be visible: a warning
// on the publisher's log. Today "ahead" skips every event silently, and
// "behind" restarts on errFeedMoved in a loop with neither a log line nor
// a pause (observed: about 900 publishes/requests per second on the feed
// connection and 450 consumer creations per second on the ledger's
// connection, under -race), which loads the ledger's JetStream API.
func TestFeedPublisherStallIsVisible(t *testing.T) {
	for _, tc := range []struct {
		name string
		tail func(first uint64) string
	}{
		{"ahead", func(uint64) string { return "1099511627776" }},
		{"behind", func(first uint64) string { return fmt.Sprint(first) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startFeedServer(t, nil)
			ctx := ctxFor(t)
			_, _, first := create(t, e.store)
			create(t, e.store)
			eventually(t, 10*time.Second, func() error {
				info, err := newJS(t, e.feed).Stream(ctx, jsstore.FeedStream)
				if err != nil {
					return err
				}
				if n := info.CachedInfo().State.Msgs; n < 2 {
					return fmt.Errorf("feed holds %d events, want 2", n)
				}
				return nil
			})
			e.stopPublisher()
			m := nats.NewMsg(jsstore.FeedPublishPrefix + ".ledger.token.planted.created")
			m.Data = []byte(`{}`)
			m.Header.Set(jsstore.LedgerSequenceHeader, tc.tail(first))
			if _, err := newJS(t, e.feed).PublishMsg(ctx, m); err != nil {
				t.Fatal(err)
			}

			log := &recordingLog{}
			pctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			pub := &jsstore.FeedPublisher{Store: e.store, Conn: e.feed, Log: log, RetryWait: 100 * time.Millisecond}
			go func() { done <- pub.Run(pctx) }()
			t.Cleanup(func() {
				cancel()
				if err := <-done; !errors.Is(err, context.Canceled) {
					t.Errorf("FeedPublisher.Run = %v", err)
				}
			})
			create(t, e.store) // a token event the feed cannot carry now
			eventually(t, 10*time.Second, func() error {
				if log.count() == 0 {
					return errors.New("the publisher stopped publishing token events and logged nothing")
				}
				return nil
			})
		})
	}
}
