package jsstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/tokenledger/tokenledger/internal/jsstore"
)

// The reader connection cap is per reader (issue 10 item 2: "cap NATS
// connections and subscriptions per reader"), each reader's account's
// max_connections: one reader that opens as many connections as its cap
// allows does not lock another reader (here a revocation follower of
// another service) out of the feed.
func TestOneReaderCannotTakeEveryReaderConnection(t *testing.T) {
	const cap = 4
	hash, err := bcrypt.GenerateFromPassword([]byte("other-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	e := startFeedServer(t, func(c *jsstore.EmbeddedConfig) {
		c.MaxReaderConnections = cap
		c.Readers = append(c.Readers, jsstore.Reader{Name: "other-service", PasswordHash: string(hash)})
	})
	for i := 0; i < cap; i++ { // bounded: the greedy reader takes the whole budget
		nc, err := nats.Connect(e.url, nats.UserInfo(readerName, readerPW), nats.NoReconnect())
		if err != nil {
			break
		}
		t.Cleanup(nc.Close)
	}
	nc, err := nats.Connect(e.url, nats.UserInfo("other-service", "other-pw"), nats.NoReconnect())
	if err != nil {
		t.Fatalf("reader other-service is locked out by another reader's %d connections: %v", cap, err)
	}
	nc.Close()
}

// Each reader has an account of its own: a Direct Get answer that one
// reader has the server publish on a subject of its choosing in
// ledger.token.> reaches only its own account, never another reader's
// subscription, and one reader cannot read another's replies.
func TestReadersForgedRepliesReachOnlyTheirOwnAccount(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("other-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	e := startFeedServer(t, func(c *jsstore.EmbeddedConfig) {
		c.Readers = append(c.Readers, jsstore.Reader{Name: "other-service", PasswordHash: string(hash)})
	})
	create(t, e.store)
	waitFeedLen(t, e, 1)
	victim, err := nats.Connect(e.url, nats.UserInfo("other-service", "other-pw"), nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	const forged = "ledger.token.00000000-0000-0000-0000-00000000dead.revoked"
	live, err := victim.SubscribeSync(jsstore.FeedSubjects)
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := victim.SubscribeSync("_INBOX.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := victim.Flush(); err != nil {
		t.Fatal(err)
	}
	attacker, _ := e.connectReader(t)
	own, err := attacker.SubscribeSync(forged)
	if err != nil {
		t.Fatal(err)
	}
	for _, reply := range []string{forged, "_INBOX.victim"} {
		req := nats.NewMsg("$JS.API.DIRECT.GET." + jsstore.FeedStream)
		req.Reply = reply
		req.Data = []byte(`{"seq":1,"batch":10}`)
		if err := attacker.PublishMsg(req); err != nil {
			t.Fatal(err)
		}
	}
	if err := attacker.Flush(); err != nil {
		t.Fatal(err)
	}
	// The attacker's own subscription gets the answer: the request was
	// served, so the victim would have had it by now too.
	if _, err := own.NextMsg(10 * time.Second); err != nil {
		t.Fatalf("the Direct Get was not answered: %v", err)
	}
	if err := victim.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []*nats.Subscription{live, inbox} {
		for i := 0; i < 100; i++ { // bounded
			m, err := sub.NextMsg(200 * time.Millisecond)
			if err != nil {
				break
			}
			if m.Subject == forged || strings.HasPrefix(m.Subject, "_INBOX.") {
				t.Fatalf("another reader's forged answer reached this reader on %s", m.Subject)
			}
		}
	}
}
