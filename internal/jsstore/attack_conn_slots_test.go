package jsstore_test

import (
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/internal/jsstore"
)

// fillSlots opens plain TCP connections to srv's listener that never sign
// in (any local process can) until the server counts max clients.
func fillSlots(t *testing.T, srv *server.Server, max int) {
	t.Helper()
	u, err := url.Parse(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < max+2 && srv.NumClients() < max; i++ { // bounded
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		// wait (bounded, well under the 2 s auth timeout) for the server to count it
		for deadline := time.Now().Add(200 * time.Millisecond); srv.NumClients() < min(max, i+1) && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond) // poll interval, not an assertion
		}
	}
	if n := srv.NumClients(); n < max {
		t.Fatalf("only %d of %d slots filled", n, max)
	}
}

// The ledger's connections are in-process so that "no reconnect can find
// the listener's slots taken" (docs/decisions.md). But nats-server counts
// in-process clients against max_connections like any other, and a client
// holds a slot from its TCP accept until the 2 s auth timeout, before it
// signs in. An anonymous local process that keeps the slots full when the
// ledger starts (or when it connects its feed user) keeps it from starting.
func TestAnonymousSocketsCannotLockTheLedgerOut(t *testing.T) {
	e := startFeedServer(t, func(c *jsstore.EmbeddedConfig) { c.MaxConnections = 8 })
	fillSlots(t, e.srv, 8)
	nc, err := nats.Connect("", nats.InProcessServer(e.srv), nats.UserInfo(jsstore.OwnerUser, "owner-pw"), nats.NoReconnect())
	if err != nil {
		t.Fatalf("the ledger's in-process connection is refused while anonymous sockets hold the listener's slots: %v", err)
	}
	nc.Close()
}

// Unauthenticated sockets count against the same max_connections as the
// readers: until they are closed at the auth timeout (and opened again), no
// reader can connect.
func TestAnonymousSocketsCannotLockReadersOut(t *testing.T) {
	e := startFeedServer(t, nil)
	fillSlots(t, e.srv, jsstore.DefaultMaxConnections)
	nc, err := nats.Connect(e.srv.ClientURL(), nats.UserInfo(readerName, readerPW), nats.NoReconnect())
	if err != nil {
		t.Fatalf("a reader is refused while %d anonymous sockets are open: %v", jsstore.DefaultMaxConnections, err)
	}
	nc.Close()
}
