package verifier_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/feedtest"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/storetest"
	"github.com/tokenledger/tokenledger/projections/feed"
	"github.com/tokenledger/tokenledger/projections/verifier"
)

// Issue 13: "a forged event never authenticates anyone". The ledger now
// signs every event, but the readers' feed carries each event without its
// hash and signature (feed.Envelope), so an embedded verifier cannot tell
// a token.created the ledger wrote from one planted in the feed by
// someone with the feed's write access (the ledger's credentials, or its
// stopped data dir). With the default configuration the planted client
// token authenticates; VerifyEvent has nothing to check it against.
func TestVerifierNeverAcceptsATokenPlantedInTheFeed(t *testing.T) {
	l := feedtest.Start(t)
	genuine := l.Create(t, "default:production.genuine-0123456789abcdef", nil)
	v := connect(t, l, verifier.Config{})
	waitApplied(t, v, genuine.Last)

	forged := "default:production.planted-by-mallory-0123456789"
	p := storetest.TokenCreated()
	p.Verifier = events.VerifierHex(forged)
	env, err := events.New(storetest.NewEventID(), storetest.NewAggregateID(), p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	env.Actor = events.Actor{Kind: events.ActorUser, ID: "42", Name: "Ada"}
	data, err := json.Marshal(feed.NewEnvelope(&env))
	if err != nil {
		t.Fatal(err)
	}
	fc, err := nats.Connect(l.URL(), nats.UserInfo(jsstore.FeedUser, feedtest.FeedPassword), nats.CustomInboxPrefix(jsstore.FeedInboxPrefix))
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	js, err := jetstream.New(fc)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(jsstore.FeedPublishPrefix + "." + env.Subject())
	m.Data = data
	m.Header.Set(feed.LedgerSequenceHeader, "2")
	if _, err := js.PublishMsg(ctxFor(t), m); err != nil {
		t.Fatal(err)
	}
	// The plant claims ledger sequence 2, which the ledger never reached:
	// give the verifier a moment to read it (bounded), then ask.
	wctx, cancel := context.WithTimeout(ctxFor(t), 3*time.Second)
	_ = v.WaitFor(wctx, 2)
	cancel()
	if tok, err := v.Verify(forged); err == nil {
		t.Errorf("the embedded verifier accepts a token planted in the feed (id %s), never written by the ledger", tok.ID)
	}
}
