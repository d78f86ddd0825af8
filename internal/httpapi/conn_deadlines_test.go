package httpapi

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingListener counts the deadlines its connections' sockets are given.
type countingListener struct {
	net.Listener
	accepted, deadlines atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.accepted.Add(1)
	return &countingConn{Conn: c, l: l}, nil
}

type countingConn struct {
	net.Conn
	l *countingListener
}

func (c *countingConn) SetReadDeadline(t time.Time) error {
	c.l.deadlines.Add(1)
	return c.Conn.SetReadDeadline(t)
}

func (c *countingConn) SetWriteDeadline(t time.Time) error {
	c.l.deadlines.Add(1)
	return c.Conn.SetWriteDeadline(t)
}

// limitedServer serves h on loopback with lazy deadlines behind
// LimitConnections, as serve does, with srv's timeouts; it returns its
// address and the counting listener under both.
func limitedServer(t *testing.T, srv *http.Server, h http.HandlerFunc) (string, *countingListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	srv.Handler = h
	served := LimitConnections(LazyDeadlines(cl), srv, 16, nil)
	go func() { _ = srv.Serve(served) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String(), cl
}

// echoBody answers 200 with the request's body.
func echoBody(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "body", http.StatusBadRequest)
		return
	}
	_, _ = w.Write(b)
}

// dial connects to addr, with a deadline well past the tests' timeouts.
func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return c, bufio.NewReader(c)
}

// post sends one keep-alive POST on c and reads its answer's body.
func post(t *testing.T, c net.Conn, rd *bufio.Reader, body string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://x/", strings.NewReader(body))
	if err := req.Write(c); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(rd, req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, %v", resp.StatusCode, err)
	}
	return string(b)
}

// A keep-alive request on a server with every timeout set changed the
// socket's deadlines eight times, each a runtime timer moved; applied
// lazily, only those earlier than the socket's are.
func TestKeepAliveRequestsArmFewSocketDeadlines(t *testing.T) {
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 25 * time.Second, IdleTimeout: time.Minute}
	addr, cl := limitedServer(t, srv, echoBody)
	c, rd := dial(t, addr)
	post(t, c, rd, "warm") // the first request arms what later ones keep
	const n = 50
	before := cl.deadlines.Load()
	for range n {
		if got := post(t, c, rd, "ping"); got != "ping" {
			t.Fatalf("answer %q", got)
		}
	}
	if per := float64(cl.deadlines.Load()-before) / n; per > 4 {
		t.Errorf("%.1f socket deadline changes per keep-alive request, want at most 4", per)
	}
	if a := cl.accepted.Load(); a != 1 {
		t.Errorf("%d connections accepted, want 1 (keep-alive)", a)
	}
}

// A socket deadline left armed from an earlier request (later or no
// deadlines are not applied) may pass while the connection is still in
// use: the write or read that meets it goes on under the deadline asked
// for, so a request on a connection older than the write timeout is
// answered.
func TestStaleSocketDeadlineDoesNotFailALaterRequest(t *testing.T) {
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second,
		WriteTimeout: 200 * time.Millisecond, IdleTimeout: time.Minute}
	addr, cl := limitedServer(t, srv, echoBody)
	c, rd := dial(t, addr)
	for i := range 3 {
		if got := post(t, c, rd, "ping"); got != "ping" {
			t.Fatalf("request %d: answer %q", i, got)
		}
		time.Sleep(400 * time.Millisecond) // past the first request's write deadline
	}
	if a := cl.accepted.Load(); a != 1 {
		t.Errorf("%d connections accepted, want 1 (keep-alive)", a)
	}
}

// Lazy deadlines keep every timeout: a connection that stalls sending its
// headers (on a new connection or a kept-alive one), its body, or sends
// nothing at all while idle is closed by the server.
func TestLazyDeadlinesKeepEveryTimeout(t *testing.T) {
	const short = 300 * time.Millisecond
	for _, c := range []struct {
		name  string
		srv   *http.Server
		first bool   // send one whole request first
		send  string // then this, and stall
	}{
		{"header, new connection", &http.Server{ReadHeaderTimeout: short, ReadTimeout: time.Minute, WriteTimeout: time.Minute, IdleTimeout: time.Minute},
			false, "POST / HTTP/1.1\r\nHost: x\r\n"},
		{"header, kept-alive connection", &http.Server{ReadHeaderTimeout: short, ReadTimeout: time.Minute, WriteTimeout: time.Minute, IdleTimeout: time.Minute},
			true, "POST / HTTP/1.1\r\nHost: x\r\n"},
		{"body", &http.Server{ReadHeaderTimeout: time.Minute, ReadTimeout: short, WriteTimeout: time.Minute, IdleTimeout: time.Minute},
			true, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"},
		{"idle", &http.Server{ReadHeaderTimeout: time.Minute, ReadTimeout: time.Minute, WriteTimeout: time.Minute, IdleTimeout: short},
			true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr, _ := limitedServer(t, c.srv, echoBody)
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// Well past the server's timeout: a connection still open then
			// was not timed out.
			_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
			rd := bufio.NewReader(conn)
			if c.first {
				post(t, conn, rd, "ping")
			}
			if _, err := io.WriteString(conn, c.send); err != nil {
				t.Fatal(err)
			}
			// The server closes the connection (after a 400 for a body
			// cut short by the read timeout, or with nothing).
			_, err = io.Copy(io.Discard, rd)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the connection was still open 20 s later: the server's %s timeout did not fire", c.name)
			}
		})
	}
}

// A read or write that met a socket deadline goes on (after arming the
// deadline asked for, if another goroutine has not yet) unless the
// deadline asked for itself has passed; other errors end it.
func TestLazyDeadlineRetriesOnlyBeforeTheDeadlineAskedFor(t *testing.T) {
	now := time.Now()
	past, future := now.Add(-time.Second), now.Add(time.Hour)
	for _, c := range []struct {
		name        string
		want, armed time.Time
		err         error
		retry, arms bool
	}{
		{"stale socket deadline", future, past, os.ErrDeadlineExceeded, true, true},
		{"asked-for deadline armed meanwhile", future, future, os.ErrDeadlineExceeded, true, false},
		{"no deadline asked for", time.Time{}, past, os.ErrDeadlineExceeded, true, true},
		{"asked-for deadline passed", past, past, os.ErrDeadlineExceeded, false, false},
		{"not a deadline", future, past, io.ErrUnexpectedEOF, false, false},
	} {
		d := lazyDeadline{want: c.want, armed: c.armed}
		armed := false
		retry := d.spurious(c.err, func(t time.Time) error { armed = true; return nil })
		if retry != c.retry || armed != c.arms {
			t.Errorf("%s: retry %v, armed %v; want %v, %v", c.name, retry, armed, c.retry, c.arms)
		}
		if c.retry && !d.armed.Equal(c.want) {
			t.Errorf("%s: socket deadline %v, want the one asked for %v", c.name, d.armed, c.want)
		}
	}
}
