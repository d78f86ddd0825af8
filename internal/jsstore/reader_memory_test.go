package jsstore_test

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tokenledger/tokenledger/internal/jsstore"
)

// One reader connection that stops reading its socket while it keeps
// asking for Direct Get batches makes the server buffer the answers for
// it: nats-server's default max_pending is 64 MiB per connection, and the
// embedded server does not lower it, so the 64 reader connections allowed
// by default can hold about 4 GiB of the ledger's memory before the server
// gives up on them (measured: 64 MiB for one connection). A reader's
// buffer should be capped far lower.
func TestSlowReaderCannotMakeTheServerBufferUnboundedMemory(t *testing.T) {
	const limit = 16 << 20 // far more than one full feed batch needs
	e := startFeedServer(t, nil)
	for i := 0; i < 200; i++ { // bounded: 200 events in the feed
		create(t, e.store)
	}
	waitFeedLen(t, e, 200)

	u, err := url.Parse(e.url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := bufio.NewReader(conn).ReadString('\n'); err != nil { // INFO
		t.Fatal(err)
	}
	w := bufio.NewWriter(conn)
	fmt.Fprintf(w, "CONNECT {\"user\":%q,\"pass\":%q,\"verbose\":false,\"pedantic\":false,\"headers\":true,\"protocol\":1}\r\nSUB _INBOX.slow 1\r\n", readerName, readerPW)
	req := `{"seq":1,"batch":100000}`
	var peak int
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < 5000 && time.Now().Before(deadline); i++ { // bounded in count and time
		fmt.Fprintf(w, "PUB $JS.API.DIRECT.GET.%s _INBOX.slow %d\r\n%s\r\n", jsstore.FeedStream, len(req), req)
		if i%50 == 49 {
			_ = conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
			if err := w.Flush(); err != nil {
				t.Logf("after %d requests: %v", i+1, err)
				break // the server closed us
			}
			if p := readerPending(t, e.srv); p > peak {
				peak = p
			}
			if peak > limit {
				break
			}
		}
	}
	_ = w.Flush()
	for time.Now().Before(deadline) && peak <= limit { // the server works through the requests
		if p := readerPending(t, e.srv); p > peak {
			peak = p
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not an assertion
	}
	t.Logf("peak pending %d bytes", peak)
	if peak > limit {
		t.Fatalf("the server buffers %d MiB for one reader connection that does not read (limit %d MiB)", peak>>20, limit>>20)
	}
}

// readerPending is the largest number of bytes the server holds for a
// reader connection.
func readerPending(t *testing.T, srv *server.Server) int {
	t.Helper()
	cz, err := srv.Connz(&server.ConnzOptions{Username: true})
	if err != nil {
		t.Fatal(err)
	}
	max := 0
	for _, c := range cz.Conns {
		if c.AuthorizedUser == readerName && c.Pending > max {
			max = c.Pending
		}
	}
	return max
}

// waitFeedLen waits (bounded) until the feed holds n messages.
func waitFeedLen(t *testing.T, e *feedEnv, n uint64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		jsz, err := e.srv.Jsz(&server.JSzOptions{Accounts: true, Streams: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range jsz.AccountDetails {
			for _, s := range a.Streams {
				if s.Name == jsstore.FeedStream && s.State.Msgs >= n {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the feed does not hold %d messages", n)
		}
		time.Sleep(20 * time.Millisecond) // poll interval, not an assertion
	}
}
