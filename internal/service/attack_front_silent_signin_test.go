package service_test

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The front learns that a socket signed in from the server's first PONG
// or +OK, but the NATS protocol asks for neither: a reader may send its
// CONNECT (verbose false) and a SUB and then only listen. nats-server has
// accepted it, yet the front still counts it among the sockets that have
// not signed in and closes it with "Authentication Timeout" once the
// verdict wait (10 s) ends. The test waits that long (no timing is
// asserted): the reader, signed in and subscribed, must still get a PONG
// to its first PING afterwards.
func TestSignedInReaderThatNeverPingsIsNotClosedAsUnauthenticated(t *testing.T) {
	s := startWithReaders(t, "", nil)
	u, err := url.Parse(s.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "INFO ") {
		t.Fatalf("first line %q: %v", line, err)
	}
	fmt.Fprintf(c, "CONNECT {\"verbose\":false,\"user\":%q,\"pass\":%q}\r\nSUB ledger.token.> 1\r\n", testReader, testReaderPW)
	time.Sleep(11 * time.Second) // past the front's verdict wait; a listener that only listens
	if _, err := fmt.Fprint(c, "PING\r\n"); err != nil {
		t.Fatalf("the signed-in reader's socket was closed: %v", err)
	}
	for range 10 { // bounded: the server may PING first
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("the signed-in reader's socket was closed: %v", err)
		}
		if strings.HasPrefix(line, "PONG") {
			return
		}
		if strings.HasPrefix(line, "-ERR") {
			t.Fatalf("a signed-in, subscribed reader that did not PING was closed: %s", strings.TrimSpace(line))
		}
	}
	t.Fatal("no PONG")
}
