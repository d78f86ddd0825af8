package cli_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/feedtest"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/storetest"
	"github.com/tokenledger/tokenledger/projections/feed"
)

// The feed's events are signed so that a reader can tell the ledger's
// from those planted in the feed by someone with its write access (the
// ledger's credentials, or the stopped data dir: README's known gap);
// projections/verifier refuses the planted ones. "tokenledger watch",
// whose --json output operators pipe into automation, must not print a
// planted revocation of a live token as if the ledger had recorded it.
func TestWatchDoesNotPrintARevocationPlantedInTheFeed(t *testing.T) {
	const (
		secretA = "default:production.watch-plant-secret-a-0123456789abcdef"
		secretB = "default:production.watch-plant-secret-b-0123456789abcdef"
	)
	l := feedtest.Start(t)
	a := l.Create(t, secretA, nil)
	waitFeed(t, l, 1)

	env, err := events.New(storetest.NewEventID(), a.ID, events.TokenRevoked{Reason: events.ReasonCompromised}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
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
	m.Header.Set(feed.LedgerSequenceHeader, strconv.FormatUint(a.Last+1, 10))
	if _, err := js.PublishMsg(feedtest.Ctx(t), m); err != nil {
		t.Fatal(err)
	}
	b := l.Create(t, secretB, nil)
	revB := l.Revoke(t, b)

	lines := startWatch(t, l, "--from-seq", "1", "--json")
	for {
		w := nextJSON(t, lines)
		if w.Event.Aggregate == a.ID {
			t.Fatalf("watch printed the revocation planted in the feed for live token %s: %+v", a.ID, w)
		}
		if w.LedgerSeq == revB {
			return // the genuine revocation after the plant, and nothing planted before it
		}
	}
}
