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

// The front learns of a sign-in from the server's answer to a PING of its
// own, which the client must never see: a client's PONGs answer its own
// PINGs, one for one and in order (a client's Flush waits for exactly
// that). Each case signs in raw, PINGs and subscribes where it may not:
// the lines before the refusal must be one PONG per PING it sent (and +OK
// for a verbose CONNECT), whether or not a PING followed its CONNECT.
func TestFrontPingIsInvisibleToTheClient(t *testing.T) {
	s := startWithReaders(t, "", nil)
	u, err := url.Parse(s.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		verbose bool
		ping    bool // PING right after CONNECT
	}{
		{"connect_then_ping", false, true},
		{"connect_alone", false, false},
		{"verbose_connect_alone", true, false},
		{"verbose_connect_then_ping", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(15 * time.Second))
			r := bufio.NewReader(c)
			if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "INFO ") {
				t.Fatalf("first line %q: %v", line, err)
			}
			var want []string
			first := fmt.Sprintf("CONNECT {\"verbose\":%v,\"user\":%q,\"pass\":%q}\r\n", tt.verbose, testReader, testReaderPW)
			if tt.verbose {
				want = append(want, "+OK")
			}
			if tt.ping {
				first += "PING\r\n"
				want = append(want, "PONG")
			}
			if _, err := fmt.Fprint(c, first); err != nil {
				t.Fatal(err)
			}
			// Then a PING and a subscription the reader may not make: the
			// server's refusal marks the end of its answers.
			if _, err := fmt.Fprint(c, "PING\r\nSUB ledger.principal.> 1\r\n"); err != nil {
				t.Fatal(err)
			}
			want = append(want, "PONG", "-ERR 'Permissions Violation for Subscription to \"ledger.principal.>\"'")
			var got []string
			for len(got) < len(want) {
				line, err := r.ReadString('\n')
				if err != nil {
					t.Fatalf("after %q: %v", got, err)
				}
				if line = strings.TrimSpace(line); line != "PING" { // the server's own keep-alive may come
					got = append(got, line)
				}
			}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("the client read %q, want %q", got, want)
			}
		})
	}
}
