package verifier_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/internal/feedtest"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/projections/verifier"
)

// plantStaleness is the verifier's staleness bound in this test, and
// plantWindow how long the test waits for it to stop accepting the revoked
// token: several times the bound, so a verifier that merely goes stale
// (fails closed) passes.
const (
	plantStaleness = 2 * time.Second
	plantWindow    = 5 * plantStaleness
)

// A message with no data and a "Status" header in the readers' feed looks,
// to the verifier's Direct Get reader, like the server's own answer (end
// of batch, no messages, heartbeat). Someone with the feed's write access
// (the ledger's own credentials, or its stopped data dir: the README's
// known gap about planted feed events) plants one. A token revoked after
// it must still stop verifying, or the verifier must stop answering
// (fail closed): it must never go on accepting a revoked token while
// looking healthy.
func TestVerifierFailsClosedPastAStatusHeaderPlantedInTheFeed(t *testing.T) {
	for _, status := range []string{"100", "204", "404", "408"} {
		t.Run(status, func(t *testing.T) {
			l := feedtest.Start(t)
			secret := "default:production.status-plant-0123456789abcdef"
			tk := l.Create(t, secret, nil)
			v := connect(t, l, verifier.Config{MaxStaleness: plantStaleness})
			waitApplied(t, v, tk.Last)

			fc, err := nats.Connect(l.URL(), nats.UserInfo(jsstore.FeedUser, feedtest.FeedPassword), nats.CustomInboxPrefix(jsstore.FeedInboxPrefix))
			if err != nil {
				t.Fatal(err)
			}
			defer fc.Close()
			js, err := jetstream.New(fc)
			if err != nil {
				t.Fatal(err)
			}
			m := nats.NewMsg(jsstore.FeedPublishPrefix + ".ledger.token.planted.created")
			m.Header.Set("Status", status)
			if _, err := js.PublishMsg(ctxFor(t), m); err != nil {
				t.Fatal(err)
			}
			rev := l.Revoke(t, tk)

			deadline := time.Now().Add(plantWindow)
			for {
				if _, err := v.Verify(secret); err != nil {
					return // refused: revoked, or the verifier fails closed
				}
				if time.Now().After(deadline) {
					info, _ := js.Stream(ctxFor(t), jsstore.FeedStream)
					t.Fatalf("the token revoked at ledger sequence %d still verifies %s after the plant (the feed holds %d messages); the verifier looks fresh: %+v",
						rev, plantWindow, info.CachedInfo().State.Msgs, v.Stats())
				}
				time.Sleep(20 * time.Millisecond) // poll interval, not an assertion
			}
		})
	}
}
