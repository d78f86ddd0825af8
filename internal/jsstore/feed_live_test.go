package jsstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/projections/feed"
)

// followQuietly runs a feed.Follower on nc from 1 that never polls, and
// returns the events it delivered so far.
func followQuietly(t *testing.T, nc *nats.Conn) (got func() []feed.Event) {
	t.Helper()
	var mu sync.Mutex
	var evs []feed.Event
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	f := feed.Follower{Conn: nc, From: 1, Poll: time.Hour}
	go func() {
		done <- f.Run(ctx, func(e feed.Event) error {
			mu.Lock()
			evs = append(evs, e)
			mu.Unlock()
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Follower.Run = %v", err)
		}
	})
	return func() []feed.Event {
		mu.Lock()
		defer mu.Unlock()
		return append([]feed.Event(nil), evs...)
	}
}

// waitFollowed waits until got holds n events.
func waitFollowed(t *testing.T, got func() []feed.Event, n int) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		if k := len(got()); k < n {
			return fmt.Errorf("%d events followed, want %d", k, n)
		}
		return nil
	})
}

// The feed is a projection the publisher rebuilds from the ledger: it
// stores its events without an fsync each (the ledger's own stream keeps
// fsyncing every event), so that a revocation is not written to disk
// twice before a reader learns of it.
func TestFeedIsStoredWithoutAnFsyncPerEvent(t *testing.T) {
	e := startFeedServer(t, nil)
	st, err := newJS(t, e.feed).Stream(ctxFor(t), jsstore.FeedStream)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.CachedInfo().Config.PersistMode; got != jetstream.AsyncPersistMode {
		t.Fatalf("the feed's persist mode is %v, want %v", got, jetstream.AsyncPersistMode)
	}
}

// A feed of an older version (every event fsynced, wake-ups without the
// event) is rebuilt at the start with the current configuration and
// filled again: a reader follows every event, each once.
func TestEnsureFeedRebuildsAFeedThatFsyncedEveryEvent(t *testing.T) {
	e := startFeedServer(t, nil)
	create(t, e.store)
	create(t, e.store)
	fjs := newJS(t, e.feed)
	eventually(t, 10*time.Second, func() error {
		st, err := fjs.Stream(ctxFor(t), jsstore.FeedStream)
		if err != nil {
			return err
		}
		if n := st.CachedInfo().State.Msgs; n != 2 {
			return fmt.Errorf("the feed holds %d events, want 2", n)
		}
		return nil
	})
	e.stopPublisher()
	if err := fjs.DeleteStream(ctxFor(t), jsstore.FeedStream); err != nil {
		t.Fatal(err)
	}
	old := jsstore.FeedStreamConfig()
	old.PersistMode = jetstream.DefaultPersistMode
	old.RePublish.HeadersOnly = true
	var err error
	for i := 0; i < 50; i++ { // a deleted stream's files go in the background (10049): retry, bounded
		if _, err = fjs.CreateStream(ctxFor(t), old); err == nil || !isStreamStoreFailed(err) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("create the old feed: %v", err)
	}
	if err := jsstore.EnsureFeed(ctxFor(t), e.feed, nil); err != nil {
		t.Fatal(err)
	}
	st, err := fjs.Stream(ctxFor(t), jsstore.FeedStream)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := st.CachedInfo().Config; cfg.PersistMode != jetstream.AsyncPersistMode || cfg.RePublish == nil || cfg.RePublish.HeadersOnly {
		t.Fatalf("the feed was kept as it was: persist mode %v, republish %+v", cfg.PersistMode, cfg.RePublish)
	}
	publish(t, e.store, e.feed)
	rd, _ := e.connectReader(t)
	got := followQuietly(t, rd)
	waitFollowed(t, got, 2)
	if evs := got(); len(evs) != 2 || evs[0].Sequence != 1 || evs[1].Sequence != 2 {
		t.Fatalf("followed %+v after the rebuild, want feed sequences 1 and 2", evs)
	}
}

func isStreamStoreFailed(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == 10049
}

// A follower that has read the feed to its end takes each new event from
// the message the feed republishes as it stores it: no Direct Get
// between the store and the follower having the event (the request and
// its answer were most of a verifier's share of a revocation's
// propagation).
func TestFollowerTakesANewEventFromItsLiveMessage(t *testing.T) {
	e := startFeedServer(t, nil)
	create(t, e.store)
	rd, _ := e.connectReader(t)
	got := followQuietly(t, rd)
	waitFollowed(t, got, 1)
	if err := rd.Flush(); err != nil {
		t.Fatal(err)
	}
	asked := rd.Stats().OutMsgs // the Direct Gets of the catch-up
	var seqs []uint64
	for range 3 {
		_, _, seq := create(t, e.store)
		seqs = append(seqs, seq)
		waitFollowed(t, got, len(seqs)+1)
	}
	evs := got()
	for i, seq := range seqs {
		if ev := evs[i+1]; ev.Sequence != uint64(i+2) || ev.LedgerSequence != seq || len(ev.Data) == 0 {
			t.Fatalf("live event %d: %+v, want feed sequence %d of ledger sequence %d with its data", i, ev, i+2, seq)
		}
	}
	if n := rd.Stats().OutMsgs - asked; n != 0 {
		t.Fatalf("the follower sent %d requests for 3 events the feed republished to it, want none", n)
	}
}

// A reader can make the server publish any stored feed event on the
// subjects followers listen on (a Direct Get naming that subject as its
// reply), in any order, as often as it likes. A follower still delivers
// every event once, in feed order, without a gap: a live event counts
// only at the sequence the follower expects next.
func TestReplayedLiveAnswersNeverMakeAFollowerSkipOrRepeat(t *testing.T) {
	e := startFeedServer(t, nil)
	var subjects []string
	for range 4 {
		id, _, _ := create(t, e.store)
		subjects = append(subjects, "ledger.token."+id+".created")
	}
	rd, _ := e.connectReader(t)
	got := followQuietly(t, rd)
	waitFollowed(t, got, 4)
	attacker, _ := e.connectReader(t)
	replay := func() {
		// Newest first, each twice, on its own subject and on another's.
		for seq := len(subjects); seq >= 1; seq-- {
			for _, reply := range []string{subjects[seq-1], subjects[seq-1], subjects[0]} {
				req := nats.NewMsg("$JS.API.DIRECT.GET." + jsstore.FeedStream)
				req.Reply, req.Data = reply, []byte(fmt.Sprintf(`{"seq":%d}`, seq))
				if err := attacker.PublishMsg(req); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := attacker.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	replay()
	for range 3 {
		id, _, _ := create(t, e.store)
		subjects = append(subjects, "ledger.token."+id+".created")
		replay()
	}
	waitFollowed(t, got, len(subjects))
	create(t, e.store) // one more: anything delivered twice shows before it
	waitFollowed(t, got, len(subjects)+1)
	evs := got()
	if len(evs) != len(subjects)+1 {
		t.Fatalf("followed %d events, want %d", len(evs), len(subjects)+1)
	}
	for i, ev := range evs {
		if ev.Sequence != uint64(i+1) {
			t.Fatalf("event %d has feed sequence %d: %+v", i, ev.Sequence, evs)
		}
		if i < len(subjects) && ev.Subject != subjects[i] {
			t.Fatalf("event %d is %s, want %s", i, ev.Subject, subjects[i])
		}
	}
}
