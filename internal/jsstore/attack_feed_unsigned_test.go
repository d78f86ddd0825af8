package jsstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/storetest"
	"github.com/tokenledger/tokenledger/projections"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// A token event planted in LEDGER with a correct hash but without the
// ledger's signature must not reach the readers' feed (their services
// would take a planted token.created for a real token): the publisher
// waits until the projections, which check the key chain, accepted each
// event; they stop at the forgery, and so does the feed, later genuine
// events included (fail closed).
func TestFeedPublishesOnlyEventsTheKeyChainAccepted(t *testing.T) {
	e := startFeedServer(t, nil)
	e.stopPublisher()
	ctx := ctxFor(t)
	key, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	e.store.SetSigner(key)
	chain, err := ledgerkey.NewChain(key.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	runner := projections.NewRunner(e.store, tokenset.New())
	runner.Verify = chain.Check
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = runner.Run(rctx) }()
	pub := &jsstore.FeedPublisher{Store: e.store, Conn: e.feed, RetryWait: 50 * time.Millisecond, Verified: runner.WaitFor}
	go func() { _ = pub.Run(rctx) }()
	rd, _ := e.connectReader(t)
	got := followAll(t, rd)

	_, _, genuine := create(t, e.store)
	eventually(t, 10*time.Second, func() error {
		if len(got()) == 0 {
			return fmt.Errorf("the genuine event at %d never reached the feed", genuine)
		}
		return nil
	})
	forged := storetest.Event(t, storetest.NewAggregateID(), storetest.TokenCreated(), "") // sealed, unsigned
	data, err := events.Marshal(&forged)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := e.js.Publish(ctx, forged.Subject(), data)
	if err != nil {
		t.Fatal(err)
	}
	_, _, after := create(t, e.store)
	eventually(t, 10*time.Second, func() error {
		if te := events.AsTamper(runner.Err()); te == nil || te.Seq != ack.Sequence {
			return fmt.Errorf("runner: %v", runner.Err())
		}
		return nil
	})
	// The publisher reached the forgery: it stops following and retries.
	eventually(t, 10*time.Second, func() error {
		if pub.Following() {
			return fmt.Errorf("the publisher still follows (last ledger sequence %d)", pub.LastLedgerSequence())
		}
		return nil
	})
	for _, ev := range got() {
		if ev.LedgerSequence >= ack.Sequence {
			t.Errorf("a reader received ledger sequence %d at or after the forged %d (the genuine one after it is %d)", ev.LedgerSequence, ack.Sequence, after)
		}
	}
}
