package jsstore_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/storetest"
	"github.com/tokenledger/tokenledger/projections"
	"github.com/tokenledger/tokenledger/projections/feed"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// ownEnv is a feedEnv whose publisher has the own lane: the ledger signs
// its events, a Runner checks them with the key chain and records that
// in a FeedTracker, and the publisher's Verified waits for the Runner,
// behind a gate the test can close.
type ownEnv struct {
	*feedEnv
	key    *ledgerkey.Key
	runner *projections.Runner
	pub    *jsstore.FeedPublisher

	mu     sync.Mutex
	closed chan struct{} // non-nil: Verified waits until it is closed
}

func startOwnFeed(t *testing.T) *ownEnv {
	t.Helper()
	e := &ownEnv{feedEnv: startFeedServer(t, nil)}
	e.stopPublisher()
	var err error
	if e.key, err = ledgerkey.Generate(ledgerkey.DefaultName); err != nil {
		t.Fatal(err)
	}
	e.store.SetSigner(e.key)
	chain, err := ledgerkey.NewChain(e.key.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	e.runner = projections.NewRunner(e.store, tokenset.New())
	tracker := &jsstore.FeedTracker{Applied: e.runner.LastApplied}
	e.runner.Verify = tracker.Verify(chain.Check)
	e.runner.Chains = projections.NewChains() // as the service: each event in its place in its aggregate's chain
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Go(func() { _ = e.runner.Run(ctx) })
	e.pub = &jsstore.FeedPublisher{Store: e.store, Conn: e.feed, RetryWait: 50 * time.Millisecond, Key: e.key, Own: tracker,
		Verified: func(ctx context.Context, seq uint64) error {
			e.mu.Lock()
			gate := e.closed
			e.mu.Unlock()
			if gate != nil {
				select {
				case <-gate:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return e.runner.WaitFor(ctx, seq)
		}}
	wg.Go(func() { _ = e.pub.Run(ctx) })
	eventually(t, 10*time.Second, func() error {
		if !e.pub.Following() {
			return errors.New("the publisher does not follow yet")
		}
		return nil
	})
	return e
}

// holdVerified makes the publisher's Verified wait until the returned
// release is called.
func (e *ownEnv) holdVerified() (release func()) {
	gate := make(chan struct{})
	e.mu.Lock()
	e.closed = gate
	e.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(gate) }) }
}

// keys are the verifier keys that trust e's ledger key.
func (e *ownEnv) keys(t *testing.T) *feed.Keys {
	t.Helper()
	keys := &feed.Keys{}
	if err := keys.Add(e.key.VerifierKey()); err != nil {
		t.Fatal(err)
	}
	return keys
}

// plantUnsigned stores a sealed but unsigned event of payload on a new
// aggregate directly in the ledger stream, as whoever holds the owner's
// credentials could, and returns its sequence.
func plantUnsigned(t *testing.T, e *feedEnv, payload events.Payload) uint64 {
	t.Helper()
	forged := storetest.Event(t, storetest.NewAggregateID(), payload, "")
	data, err := events.Marshal(&forged)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := e.js.Publish(ctxFor(t), forged.Subject(), data)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// plantCopy appends a signed event of payload on a new aggregate and
// stores a copy of its bytes again after it, as whoever holds the owner's
// credentials could: the key chain accepts the copy (the ledger signed
// it), its aggregate's chain does not. It returns the copy's sequence.
func plantCopy(t *testing.T, e *ownEnv, payload events.Payload) uint64 {
	t.Helper()
	ctx := ctxFor(t)
	orig := storetest.Event(t, storetest.NewAggregateID(), payload, "")
	stored, err := e.store.Append(ctx, commands.Append{Event: orig, MsgID: storetest.NewEventID()})
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.js.Stream(ctx, jsstore.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetMsg(ctx, stored.Seq)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := e.js.Publish(ctx, m.Subject, m.Data)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// liveEvents subscribes a reader to the feed's live messages.
func (e *ownEnv) liveEvents(t *testing.T) *nats.Subscription {
	t.Helper()
	rd, _ := e.connectReader(t)
	sub, err := rd.SubscribeSync(jsstore.FeedSubjects)
	if err != nil {
		t.Fatal(err)
	}
	if err := rd.Flush(); err != nil {
		t.Fatal(err)
	}
	return sub
}

// revokeToken appends a revocation of the token id, whose last event is
// at seq, chained to that event as stored (signed).
func revokeToken(t *testing.T, st *jsstore.Store, id string, seq uint64) uint64 {
	t.Helper()
	evs, err := st.Load(ctxFor(t), events.KindToken, id)
	if err != nil || len(evs) == 0 {
		t.Fatalf("load token %s: %d events, %v", id, len(evs), err)
	}
	stored, err := st.Append(ctxFor(t), commands.Append{Event: storetest.Event(t, id, events.TokenRevoked{Reason: events.ReasonDeleted}, evs[len(evs)-1].Hash),
		Expected: seq, MsgID: storetest.NewEventID()})
	if err != nil {
		t.Fatal(err)
	}
	return stored.Seq
}

// checkLive reads the next live message and checks it is the feed event
// at feedSeq, of the ledger's event at ledgerSeq, signed by key after
// the feed event of ledger sequence prev.
func checkLive(t *testing.T, sub *nats.Subscription, keys *feed.Keys, feedSeq, ledgerSeq, prev uint64) {
	t.Helper()
	m, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("live feed event %d (ledger %d): %v", feedSeq, ledgerSeq, err)
	}
	ev := feed.Event{Subject: m.Subject, Data: m.Data, KeyID: m.Header.Get(feed.KeyHeader), Signature: m.Header.Get(feed.SignatureHeader),
		Previous: m.Header.Get(feed.PreviousHeader)}
	ev.Sequence, _ = strconv.ParseUint(m.Header.Get("Nats-Sequence"), 10, 64)
	ev.LedgerSequence, _ = strconv.ParseUint(m.Header.Get(jsstore.LedgerSequenceHeader), 10, 64)
	if ev.Sequence != feedSeq || ev.LedgerSequence != ledgerSeq || ev.Previous != fmt.Sprint(prev) {
		t.Fatalf("live feed event %d (ledger %d, previous %s), want %d (ledger %d, previous %d)", ev.Sequence, ev.LedgerSequence, ev.Previous,
			feedSeq, ledgerSeq, prev)
	}
	if err := keys.Check(ev); err != nil {
		t.Fatalf("live feed event %d: %v", feedSeq, err)
	}
}

// An event the ledger appended itself reaches the readers as soon as its
// append is acknowledged: the publisher does not wait for its follow of
// the ledger nor for the projections to accept it (here they never do),
// and the feed copy is signed and chained as the follow signs it.
func TestOwnAppendReachesReadersWithoutWaitingForTheProjections(t *testing.T) {
	e := startOwnFeed(t)
	release := e.holdVerified()
	defer release()
	live := e.liveEvents(t)
	keys := e.keys(t)

	id, _, created := create(t, e.store)
	checkLive(t, live, keys, 1, created, 0)
	// As the service answers a create: once the projections applied it.
	if err := e.runner.WaitFor(ctxFor(t), created); err != nil {
		t.Fatal(err)
	}
	revoked := revokeToken(t, e.store, id, created)
	checkLive(t, live, keys, 2, revoked, created)
}

// The own lane never publishes ahead of an earlier feed event the feed
// does not hold yet, here one another ledger process (a second Store on
// the stream) appended and the follow holds back: the own event waits
// and both reach the readers in ledger order.
func TestOwnAppendWaitsForAnEarlierFeedEvent(t *testing.T) {
	e := startOwnFeed(t)
	other := mustOpen(t, e.owner, jsstore.Config{OwnsServer: true})
	other.SetSigner(e.key) // a replica shares the ledger's key
	release := e.holdVerified()
	defer release()
	live := e.liveEvents(t)
	keys := e.keys(t)

	id, _, created := create(t, other) // not this process's append
	revoked := revokeToken(t, e.store, id, created)
	if err := e.runner.WaitFor(ctxFor(t), revoked); err != nil {
		t.Fatal(err)
	}
	if m, err := live.NextMsg(300 * time.Millisecond); err == nil {
		t.Fatalf("the feed published ledger sequence %s while the earlier %d was held back", m.Header.Get(jsstore.LedgerSequenceHeader), created)
	}
	release()
	checkLive(t, live, keys, 1, created, 0)
	checkLive(t, live, keys, 2, revoked, created)
}

// An own append after an event the key chain refused (planted in the
// stream without the ledger's signature: a token event, which the feed
// carries, or a project's, which it does not) never reaches the readers:
// the check stopped before it, so the own lane cannot prove the feed
// complete, and the follow waits for the stopped projections.
func TestOwnAppendAfterAForgeryStaysOutOfTheFeed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, e *ownEnv) uint64
	}{
		{"unsigned token event", func(t *testing.T, e *ownEnv) uint64 { return plantUnsigned(t, e.feedEnv, storetest.TokenCreated()) }},
		{"unsigned project event", func(t *testing.T, e *ownEnv) uint64 {
			return plantUnsigned(t, e.feedEnv, events.ProjectCreated{Name: "planted"})
		}},
		{"replayed copy of a signed project event", func(t *testing.T, e *ownEnv) uint64 {
			return plantCopy(t, e, events.ProjectCreated{Name: "copied"})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startOwnFeed(t)
			live := e.liveEvents(t)
			_, _, genuine := create(t, e.store)
			if m, err := live.NextMsg(10 * time.Second); err != nil || m.Header.Get(jsstore.LedgerSequenceHeader) != fmt.Sprint(genuine) {
				t.Fatalf("the genuine event at %d: %v", genuine, err)
			}
			forged := tc.plant(t, e)
			eventually(t, 10*time.Second, func() error {
				if te := events.AsTamper(e.runner.Err()); te == nil || te.Seq != forged {
					return fmt.Errorf("runner: %v", e.runner.Err())
				}
				return nil
			})
			_, _, after := create(t, e.store)
			if m, err := live.NextMsg(300 * time.Millisecond); err == nil {
				t.Fatalf("a reader received ledger sequence %s after the forged %d (the own append is %d)",
					m.Header.Get(jsstore.LedgerSequenceHeader), forged, after)
			}
		})
	}
}

// Own appends from several goroutines racing, events of another ledger
// process and events the feed does not carry between them: the feed
// holds every token event once, in ledger order, each signed and naming
// the one before it, whichever lane published it.
func TestOwnLaneAndFollowKeepTheFeedInLedgerOrder(t *testing.T) {
	e := startOwnFeed(t)
	ctx := ctxFor(t)
	other := mustOpen(t, e.owner, jsstore.Config{OwnsServer: true})
	other.SetSigner(e.key)
	rd, _ := e.connectReader(t)
	got := followAll(t, rd)

	const writers, rounds = 6, 8 // bounded
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			st := e.store
			if w == 0 {
				st = other
			}
			for range rounds {
				id := storetest.NewAggregateID()
				batch := []commands.Append{{Event: storetest.Event(t, id, storetest.TokenCreated(), ""), MsgID: storetest.NewEventID()}}
				c, err := st.Append(ctx, batch...)
				if err != nil {
					errs <- err
					return
				}
				created := batch[0].Event.Hash // as signed and stored
				project := storetest.Event(t, storetest.NewAggregateID(), events.ProjectCreated{Name: "p"}, "")
				if _, err := st.Append(ctx, commands.Append{Event: project, MsgID: storetest.NewEventID()}); err != nil {
					errs <- err
					return
				}
				if _, err := st.Append(ctx, commands.Append{Event: storetest.Event(t, id, events.TokenRevoked{Reason: events.ReasonDeleted}, created),
					Expected: c.Seq, MsgID: storetest.NewEventID()}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	last, err := e.store.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []uint64 // the ledger's token events
	if err := e.store.Replay(ctx, 1, last, func(env events.Envelope) error {
		if env.AggregateKind == events.KindToken {
			want = append(want, env.Sequence)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(want) != 2*writers*rounds {
		t.Fatalf("the ledger holds %d token events, want %d", len(want), 2*writers*rounds)
	}
	waitFollowed(t, func() []feed.Event { return got() }, len(want))
	keys := e.keys(t)
	evs := got()
	if len(evs) != len(want) {
		t.Fatalf("the feed holds %d events, the ledger %d token events", len(evs), len(want))
	}
	prev := uint64(0)
	for i, ev := range evs {
		if ev.Sequence != uint64(i+1) || ev.LedgerSequence != want[i] || ev.Previous != fmt.Sprint(prev) {
			t.Fatalf("feed event %d is %d of ledger %d after %s, want ledger %d after %d", i+1, ev.Sequence, ev.LedgerSequence,
				ev.Previous, want[i], prev)
		}
		if err := keys.Check(ev); err != nil {
			t.Fatal(err)
		}
		prev = ev.LedgerSequence
	}
}
