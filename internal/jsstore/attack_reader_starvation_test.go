package jsstore_test

import (
	"testing"

	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/tokenledger/tokenledger/internal/jsstore"
)

// The reader connection cap is one budget for all readers together (the
// FEED account's max_connections), not a cap per reader as issue 10 item 2
// asks ("cap NATS connections and subscriptions per reader"): one reader
// that opens as many connections as the cap allows locks every other
// reader out of the feed (here a revocation follower of another service).
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
		nc, err := nats.Connect(e.srv.ClientURL(), nats.UserInfo(readerName, readerPW), nats.NoReconnect())
		if err != nil {
			break
		}
		t.Cleanup(nc.Close)
	}
	nc, err := nats.Connect(e.srv.ClientURL(), nats.UserInfo("other-service", "other-pw"), nats.NoReconnect())
	if err != nil {
		t.Fatalf("reader other-service is locked out by another reader's %d connections: %v", cap, err)
	}
	nc.Close()
}
