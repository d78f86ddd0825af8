package jsstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/tokenledger/tokenledger/internal/jsstore"
)

// flood opens anonymous sockets to the front at url from the loopback
// addresses from (never signing in: any local process can), as fast as it
// can, until stop is called, count sockets are opened or a time bound
// passes. It keeps at most maxOpen of them open itself (closing its
// oldest); the front closes the others.
func flood(t *testing.T, rawURL string, from []string, maxOpen int) (stop func() int) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	const count, within = 20000, 20 * time.Second // bounds
	done := make(chan struct{})
	opened := make(chan int, 1)
	go func() {
		var open []net.Conn
		n := 0
		defer func() {
			for _, c := range open {
				c.Close()
			}
			opened <- n
		}()
		deadline := time.Now().Add(within)
		for ; n < count && time.Now().Before(deadline); n++ {
			select {
			case <-done:
				return
			default:
			}
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from[n%len(from)])}, Timeout: time.Second}
			c, err := d.Dial("tcp", u.Host)
			if err != nil {
				continue // the front may be busy closing; keep trying
			}
			open = append(open, c)
			if len(open) > maxOpen {
				open[0].Close()
				open = open[1:]
			}
		}
	}()
	var once sync.Once
	n := 0
	stop = func() int {
		once.Do(func() { close(done); n = <-opened })
		return n
	}
	t.Cleanup(func() { stop() })
	return stop
}

// waitFull waits (bounded) until the front holds as many unauthenticated
// sockets as a flood from addrs addresses can make it hold: its cap,
// half of it per address.
func waitFull(t *testing.T, f *jsstore.Front, limit, addrs int) {
	t.Helper()
	want := min(limit, addrs*max(limit/2, 1))
	eventually(t, 15*time.Second, func() error {
		if n := f.Stats().Unauthenticated; n < want {
			return fmt.Errorf("%d of %d unauthenticated slots held", n, want)
		}
		return nil
	})
}

// connectFrom connects as the test reader from a given loopback address.
func connectFrom(url, local string, opts ...nats.Option) (*nats.Conn, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 10 * time.Second}
	// A generous timeout: the flood loads the machine; being let in is
	// what is tested, not how fast.
	opts = append([]nats.Option{nats.SetCustomDialer(d), nats.NoReconnect(), nats.Timeout(10 * time.Second)}, opts...)
	nc, err := nats.Connect(url, opts...)
	for try := 1; err != nil && try < 3 && strings.Contains(err.Error(), "expected 'PONG', got 'PING'"); try++ {
		// nats-server pings a client 2 s after it connected; when the
		// flood kept it from reading the reader's CONNECT that long, its
		// PING comes before the handshake's PONG and nats.go gives up
		// (seen once in CI under -race). The reader was let in: it
		// connects again, as a client library reconnecting would.
		nc, err = nats.Connect(url, opts...)
	}
	return nc, err
}

// nats-server counts a socket that has not signed in against
// max_connections until its auth timeout, and has no other limit on such
// sockets: a local flood of anonymous sockets kept every reader out. The
// front bounds those sockets (in total and per address, evicting the
// longest-waiting of the address holding the most), so a reader with
// valid credentials connects and reads the feed while a flood from one or
// from several other addresses goes on.
func TestAnonymousSocketsCannotLockReadersOut(t *testing.T) {
	tests := []struct {
		name string
		from []string
	}{
		{"one address", []string{"127.0.0.1"}},
		{"several addresses", []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8", "127.0.0.9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startFeedServer(t, nil)
			_, _, seq := create(t, e.store)
			waitFeedLen(t, e, 1)
			stop := flood(t, e.url, tt.from, 2*jsstore.DefaultMaxConnections)
			waitFull(t, e.front, jsstore.DefaultMaxUnauthenticated, len(tt.from))
			nc, err := connectFrom(e.url, "127.0.0.10", nats.UserInfo(readerName, readerPW))
			if err != nil {
				t.Fatalf("a reader is refused while anonymous sockets flood the listener: %v", err)
			}
			defer nc.Close()
			m, err := nc.Request("$JS.API.DIRECT.GET."+jsstore.FeedStream, []byte(`{"seq":1}`), 10*time.Second)
			if err != nil {
				t.Fatalf("a reader's Direct Get fails during the flood: %v", err)
			}
			if got := m.Header.Get("Ledger-Sequence"); got != fmt.Sprint(seq) {
				t.Fatalf("Direct Get answered Ledger-Sequence %q (headers %v), want %d", got, m.Header, seq)
			}
			t.Logf("%d anonymous sockets opened during the test", stop())
		})
	}
}

// nats-server counts in-process clients against max_connections like any
// other, and a TCP client holds a slot from its accept until the auth
// timeout: anonymous sockets that kept the slots full when the ledger
// connected kept it from starting. Behind the front, the server's cap
// counts every socket the front lets through and room for the ledger's
// own connections, so a flood of anonymous sockets leaves the ledger
// appending and reading through its in-process connection.
func TestAnonymousSocketsCannotLockTheLedgerOut(t *testing.T) {
	e := startFeedServerFront(t, nil, func(f *jsstore.FrontConfig) { f.MaxConnections, f.MaxUnauthenticated = 4, 4 })
	stop := flood(t, e.url, []string{"127.0.0.2", "127.0.0.3"}, 64)
	waitFull(t, e.front, 4, 2)
	create(t, e.store) // the ledger appends (and reads its stream state) through its own connection
	if _, err := e.store.LastSequence(ctxFor(t)); err != nil {
		t.Fatalf("the ledger cannot read its stream while anonymous sockets flood the listener: %v", err)
	}
	if !e.owner.IsConnected() {
		t.Fatal("the ledger's connection was dropped")
	}
	stop()
}

// attrLogger keeps the log lines it is given, with their attributes.
type attrLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *attrLogger) Log(_ context.Context, _ slog.Level, msg string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprint(append([]any{msg}, args...)...))
}

func (l *attrLogger) has(parts ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

// A socket that never sends CONNECT is closed by the front at its
// sign-in deadline (its slot is freed), and the front's log names the
// client's address, which the server (seeing a pipe) cannot.
func TestSocketThatNeverSignsInIsClosed(t *testing.T) {
	logs := &attrLogger{}
	e := startFeedServerFront(t, func(c *jsstore.EmbeddedConfig) { c.Log = logs },
		func(f *jsstore.FrontConfig) { f.AuthTimeout = 100 * time.Millisecond })
	u, err := url.Parse(e.url)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second)) // bounds the test, not the behaviour
	r := bufio.NewReader(c)
	var got []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the socket is still open after 10 s; it read %q", got)
			}
			break // closed
		}
		got = append(got, strings.TrimSpace(line))
	}
	if len(got) != 2 || !strings.HasPrefix(got[0], "INFO ") || got[1] != "-ERR 'Authentication Timeout'" {
		t.Fatalf("the socket read %q, want INFO then -ERR 'Authentication Timeout'", got)
	}
	if !logs.has("did not sign in in time", c.LocalAddr().String()) {
		t.Fatalf("the front did not log the closed socket's address %s: %q", c.LocalAddr(), logs.lines)
	}
	eventually(t, 5*time.Second, func() error {
		if n := e.front.Stats().Unauthenticated; n != 0 {
			return fmt.Errorf("%d unauthenticated sockets held", n)
		}
		return nil
	})
}

// A client with bad credentials gets the server's own authorization error
// through the front, as it would from nats-server's listener.
func TestBadCredentialsGetTheServersAuthError(t *testing.T) {
	e := startFeedServer(t, nil)
	tests := []struct {
		name string
		opts []nats.Option
	}{
		{"wrong password", []nats.Option{nats.UserInfo(readerName, "wrong")}},
		{"unknown user", []nats.Option{nats.UserInfo("mallory", readerPW)}},
		{"no credentials", nil},
		{"the ledger's user, guessed", []nats.Option{nats.UserInfo(jsstore.OwnerUser, "guess")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := nats.Connect(e.url, append(tt.opts, nats.NoReconnect())...)
			if err == nil {
				nc.Close()
				t.Fatal("connected")
			}
			if !errors.Is(err, nats.ErrAuthorization) {
				t.Fatalf("Connect = %v, want the server's authorization violation", err)
			}
		})
	}
	if s := e.front.Stats(); s.SignedIn != 0 {
		t.Fatalf("the front counts %d refused clients as signed in", s.SignedIn)
	}
}

// Closing the front closes every client socket, signed in or not, ends
// the goroutines that bridged them and their server-side connections.
func TestFrontCloseEndsEveryConnection(t *testing.T) {
	e := startFeedServer(t, nil)
	ledgerConns := e.srv.NumClients() // the owner's and the feed's, in-process
	closed := make(chan struct{})
	nc, err := nats.Connect(e.url, nats.UserInfo(readerName, readerPW), nats.NoReconnect(),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	u, err := url.Parse(e.url)
	if err != nil {
		t.Fatal(err)
	}
	var raws []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		raws = append(raws, c)
	}
	eventually(t, 10*time.Second, func() error {
		if s := e.front.Stats(); s != (jsstore.FrontStats{SignedIn: 1, Unauthenticated: 3}) {
			return fmt.Errorf("front holds %+v", s)
		}
		return nil
	})
	if frontGoroutines() == 0 {
		t.Fatal("no goroutine of the front found: the count below proves nothing")
	}
	if err := e.front.Close(); err != nil {
		t.Fatal(err)
	}
	// Close waits for every goroutine's wg.Done; one that has called it may
	// still be returning when Close does, so its stack is polled (bounded).
	eventually(t, 5*time.Second, func() error {
		if n := frontGoroutines(); n != 0 {
			return fmt.Errorf("%d goroutines of the front left after Close", n)
		}
		return nil
	})
	select {
	case <-closed:
	case <-time.After(10 * time.Second): // bounds the test
		t.Fatal("the reader's connection is still open after the front closed")
	}
	for i, c := range raws {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatalf("socket %d: %v, want it closed by the front", i, err)
		}
	}
	if c, err := net.Dial("tcp", u.Host); err == nil {
		c.Close()
		t.Fatal("the front still accepts sockets after Close")
	}
	eventually(t, 10*time.Second, func() error {
		if n := e.srv.NumClients(); n != ledgerConns {
			return fmt.Errorf("the server holds %d client connections, want the ledger's %d", n, ledgerConns)
		}
		return nil
	})
}

// frontGoroutines counts the goroutines running the front's code.
func frontGoroutines() int {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "jsstore.(*Front)") || strings.Contains(g, "jsstore.(*frontConn)") {
			n++
		}
	}
	return n
}

// The sign-in deadline bounds how long a socket takes to send its
// CONNECT, not how long the server takes to check it: a reader whose
// password hash takes longer to check than the deadline signs in.
func TestSlowCredentialCheckIsNotCutOff(t *testing.T) {
	const slowPW = "slow-reader-pw"
	deadline := 150 * time.Millisecond
	// The cheapest bcrypt cost whose check takes 3 to 6 deadlines here
	// (and well under nats-server's first PING to the client, 1 s).
	var hash []byte
	var check time.Duration
	for cost := bcrypt.MinCost; cost <= 16 && check < 3*deadline; cost++ { // bounded
		h, err := bcrypt.GenerateFromPassword([]byte(slowPW), cost)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := bcrypt.CompareHashAndPassword(h, []byte(slowPW)); err != nil {
			t.Fatal(err)
		}
		hash, check = h, time.Since(start)
	}
	if check < 3*deadline || check > 6*deadline {
		t.Skipf("no bcrypt cost checks in 3 to 6 times %s here (%s)", deadline, check)
	}
	e := startFeedServerFront(t, func(c *jsstore.EmbeddedConfig) {
		c.Readers = append(c.Readers, jsstore.Reader{Name: "slow", PasswordHash: string(hash)})
	}, func(f *jsstore.FrontConfig) { f.AuthTimeout = deadline })
	nc, err := nats.Connect(e.url, nats.UserInfo("slow", slowPW), nats.NoReconnect(), nats.Timeout(10*time.Second))
	if err != nil {
		t.Fatalf("a reader whose credentials take %s to check is cut off at the %s deadline: %v", check, deadline, err)
	}
	nc.Close()
}
