package jsstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// FrontConfig configures a [Front].
type FrontConfig struct {
	// Listen is the client address as host:port (port 0 picks a free
	// port; read it back with Front.Addr).
	Listen string
	// MaxConnections caps the connections that have signed in (default
	// DefaultMaxConnections). Each reader's own cap is its account's
	// (EmbeddedConfig.MaxReaderConnections), enforced by the server.
	MaxConnections int
	// MaxUnauthenticated caps the sockets that have not signed in yet
	// (default DefaultMaxUnauthenticated); one client address holds at
	// most half of them.
	MaxUnauthenticated int
	// AuthTimeout is how long a socket may take to send its first line,
	// the CONNECT (default 2 s, nats-server's auth_timeout); the server's
	// answer to it is then awaited up to 10 s more.
	AuthTimeout time.Duration
	// FailedSignInRate and FailedSignInBurst are a token bucket of failed
	// sign-ins per client address (its IPv4 address or IPv6 /64): each
	// CONNECT the front forwards takes a token, which a sign-in gives
	// back. An address without a token is refused before the server
	// checks another password (-ERR 'Too Many Failed Sign-Ins').
	// FailedSignInRate <= 0: no limit.
	FailedSignInRate  float64
	FailedSignInBurst int
	// Log receives the front's log (client addresses, closed sockets);
	// nil discards it.
	Log Logger
}

// Defaults of FrontConfig.
const (
	DefaultMaxUnauthenticated = 64
	DefaultFrontAuthTimeout   = 2 * time.Second
)

// verdictTimeout bounds the wait for the server's answer to a CONNECT.
const verdictTimeout = 10 * time.Second

// ledgerConnections is what the ledger's own in-process connections (the
// owner's and the feed's, and room to reconnect) need of the server's
// connection cap.
const ledgerConnections = 8

// frontWriteTimeout bounds one write to a client socket, like
// nats-server's own write deadline (10 s): a client that stops reading is
// closed, and the server, whose writes to the bridge then block, closes it
// as a slow consumer at its own deadline as it would over TCP.
const frontWriteTimeout = 10 * time.Second

// frontBufSize is the copy buffer of one direction of one connection.
const frontBufSize = 32 << 10

// errTooManyFailures is the front's refusal of an address that has spent
// its failed sign-ins (FrontConfig.FailedSignInRate).
const errTooManyFailures = "Too Many Failed Sign-Ins"

// verdictPing is what the front sends the server right after a client's
// first line (its CONNECT): the server answers it with a PONG only once it
// accepted the CONNECT, so every sign-in has an answer the front can see
// (the protocol asks the client for no PING, and a client that only
// subscribes gets none of its own). The front removes that PONG from what
// the client receives.
var verdictPing = []byte("PING\r\n")

func (c FrontConfig) withDefaults() FrontConfig {
	if c.MaxConnections <= 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.MaxUnauthenticated <= 0 {
		c.MaxUnauthenticated = DefaultMaxUnauthenticated
	}
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = DefaultFrontAuthTimeout
	}
	return c
}

// ServerConnections is the connection cap (EmbeddedConfig.MaxConnections)
// the embedded server behind a front with this configuration needs: every
// signed-in and unauthenticated socket the front lets through, the
// ledger's own connections, and as much again as the unauthenticated cap,
// because a socket the front has closed holds its server slot until the
// server has read the close. The front is the limit; the server's cap is
// a backstop that never refuses a socket the front let in.
func (c FrontConfig) ServerConnections() int {
	c = c.withDefaults()
	return c.MaxConnections + 2*c.MaxUnauthenticated + ledgerConnections
}

// Front is the embedded server's client listener. nats-server counts a
// socket that has not signed in against its max_connections until the
// auth timeout and has no other limit on such sockets, so any process
// that can reach its listener can keep readers out. The server therefore
// does not listen (EmbeddedConfig.Listen is empty): the front accepts
// each socket and bridges it to an in-process connection of the server
// (server.InProcessConn), which authenticates, authorizes and limits it
// like a TCP client. The front bounds the sockets that have not signed in
// (MaxUnauthenticated, half of them per client address; when full, the
// longest-waiting socket of the address holding the most is closed, so a
// flood mostly evicts its own sockets), closes those that sent no CONNECT
// within AuthTimeout, and caps the signed-in ones (MaxConnections). When
// it is full, the socket it closes is the longest-waiting one of the
// network (IPv4 /24, IPv6 /48) holding the most unauthenticated sockets,
// and within it of the address holding the most: a flood from many
// addresses of one network evicts its own sockets before a reader's. A
// flood from more networks than MaxUnauthenticated, each holding as few
// sockets as a reader, can still keep a slow reader out.
//
// It learns that a socket signed in from the server's answer to a PING it
// sends after the client's first line (the CONNECT), and removes that
// PONG from the client's stream: the server answers nothing before a
// CONNECT it accepted but +OK (verbose) and that PONG, and -ERR and a close
// for one it refused. Each forwarded CONNECT spends a token of its
// address's failed sign-in budget (FailedSignInRate), which a sign-in gives
// back.
//
// The server sees a pipe, not the client's address: the front logs the
// address with the server's client id (cid) at DEBUG, and the sockets it
// closes at WARN (throttled).
type Front struct {
	srv     *server.Server
	ln      net.Listener
	cfg     FrontConfig
	perAddr int
	warn    *throttledLog

	mu       sync.Mutex
	closed   bool
	conns    map[*frontConn]struct{}
	pending  map[*frontConn]struct{} // not signed in yet
	byAddr   map[netip.Addr]int      // pending sockets per client address
	byNet    map[netip.Prefix]int    // pending sockets per client network
	budget   *signInBudget           // nil: no limit
	signedIn int

	wg sync.WaitGroup
}

// NewFront listens on cfg.Listen; it accepts no client until Serve. A
// taken port is reported before the server starts (which can take long
// with a large store).
func NewFront(cfg FrontConfig) (*Front, error) {
	cfg = cfg.withDefaults()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("jsstore: NATS front: error listening on port %s: %w", cfg.Listen, err)
	}
	return &Front{ln: ln, cfg: cfg, perAddr: max(cfg.MaxUnauthenticated/2, 1),
		warn:  &throttledLog{out: cfg.Log, window: clientWindow, perWindow: clientLinesPerWindow},
		conns: map[*frontConn]struct{}{}, pending: map[*frontConn]struct{}{}, byAddr: map[netip.Addr]int{},
		byNet: map[netip.Prefix]int{}, budget: newSignInBudget(cfg.FailedSignInRate, cfg.FailedSignInBurst)}, nil
}

// Serve starts bridging clients to srv, an embedded server started
// without a listener of its own, until Close. Call it once.
func (f *Front) Serve(srv *server.Server) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || f.srv != nil {
		return
	}
	f.srv = srv
	f.wg.Add(1)
	go f.acceptLoop()
}

// OpenFront is NewFront and Serve.
func OpenFront(srv *server.Server, cfg FrontConfig) (*Front, error) {
	f, err := NewFront(cfg)
	if err != nil {
		return nil, err
	}
	f.Serve(srv)
	return f, nil
}

// Addr is the address the front listens on.
func (f *Front) Addr() net.Addr { return f.ln.Addr() }

// ClientURL is the URL clients connect to.
func (f *Front) ClientURL() string { return "nats://" + f.ln.Addr().String() }

// FrontStats counts a front's client sockets.
type FrontStats struct {
	SignedIn        int // signed in
	Unauthenticated int // not signed in yet
}

// Stats counts the client sockets the front holds now.
func (f *Front) Stats() FrontStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return FrontStats{SignedIn: f.signedIn, Unauthenticated: len(f.pending)}
}

// Close stops listening, closes every client socket (and its bridge to
// the server) and waits for the front's goroutines to end.
func (f *Front) Close() error {
	f.mu.Lock()
	f.closed = true
	conns := make([]*frontConn, 0, len(f.conns))
	for c := range f.conns {
		conns = append(conns, c)
	}
	f.mu.Unlock()
	err := f.ln.Close()
	for _, c := range conns {
		c.close()
	}
	f.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("jsstore: NATS front: close: %w", err)
	}
	return nil
}

// acceptLoop accepts until the listener is closed; other accept errors
// (out of file descriptors) are retried after a pause.
func (f *Front) acceptLoop() {
	defer f.wg.Done()
	var pause time.Duration
	for {
		c, err := f.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			f.warn.log(slog.LevelWarn, "NATS front: accept failed; retrying", "err", err, "retry_in", pause)
			time.Sleep(pause)
			continue
		}
		pause = 0
		f.admit(c)
	}
}

// frontConn is one client socket and its bridge to the server.
type frontConn struct {
	f        *Front
	tcp      net.Conn
	pipe     net.Conn     // nil until bridged
	addr     netip.Addr   // clientKey
	network  netip.Prefix // networkKey(addr)
	remote   string
	accepted time.Time
	cid      atomic.Uint64
	timer    *time.Timer

	// Under f.mu: the slot the socket holds, and whether its sign-in
	// took a token of its address's budget.
	signedIn bool
	released bool
	charged  bool

	closeOnce sync.Once
}

// admit gives c a slot among the unauthenticated sockets (closing
// another one when its address or the front is full) and bridges it.
func (f *Front) admit(tcp net.Conn) {
	now := time.Now()
	c := &frontConn{f: f, tcp: tcp, addr: clientKey(tcp), remote: tcp.RemoteAddr().String(), accepted: now}
	c.network = networkKey(c.addr)
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		_ = tcp.Close()
		return
	}
	if !f.budget.allows(c.addr, now) {
		f.mu.Unlock()
		f.refuse(c, errTooManyFailures)
		return
	}
	var victim *frontConn
	if f.byAddr[c.addr] >= f.perAddr {
		victim = f.oldestPending(func(o *frontConn) bool { return o.addr == c.addr })
	} else if len(f.pending) >= f.cfg.MaxUnauthenticated {
		victim = f.evictionVictimLocked()
	}
	if victim != nil {
		f.releaseLocked(victim)
	}
	f.conns[c] = struct{}{}
	f.pending[c] = struct{}{}
	f.byAddr[c.addr]++
	f.byNet[c.network]++
	f.mu.Unlock()
	if victim != nil {
		f.warn.log(slog.LevelWarn, "NATS front: closed a socket that had not signed in, to make room for a new one",
			"remote", victim.remote, "cid", victim.cid.Load(), "waited", time.Since(victim.accepted).Round(time.Millisecond))
		victim.close()
	}
	f.wg.Add(1) // the accept loop's count is held: no race with Close's Wait
	go c.run()
}

// run bridges c to the server and copies the client's bytes to it; the
// accept loop does not wait for the server.
func (c *frontConn) run() {
	f := c.f
	defer f.wg.Done()
	pipe, err := f.srv.InProcessConn()
	if err != nil {
		f.warn.log(slog.LevelWarn, "NATS front: cannot bridge a client to the server", "remote", c.remote, "err", err)
		c.close()
		return
	}
	if !c.bridge(pipe) {
		return // evicted or closed meanwhile
	}
	f.log(slog.LevelDebug, "NATS front: client connected", "remote", c.remote)
	f.wg.Add(1)
	go c.toClient()
	c.toServer()
}

// refuse tells a client that it cannot stay (in nats-server's words for
// the connection cap) and closes it; c holds no slot, or has released it.
func (f *Front) refuse(c *frontConn, reason string) {
	f.warn.log(slog.LevelWarn, "NATS front: refused a client: "+reason, "remote", c.remote, "signed_in", f.cfg.MaxConnections)
	_ = c.tcp.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = c.tcp.Write([]byte("-ERR '" + reason + "'\r\n"))
	_ = c.tcp.Close()
}

// oldestPending is the longest-waiting unauthenticated socket among
// those pick accepts; f.mu is held.
func (f *Front) oldestPending(pick func(*frontConn) bool) *frontConn {
	var oldest *frontConn
	for c := range f.pending {
		if pick(c) && (oldest == nil || c.accepted.Before(oldest.accepted)) {
			oldest = c
		}
	}
	return oldest
}

// evictionVictimLocked is the unauthenticated socket the front closes
// when it is full: of the network holding the most of them, then of the
// address holding the most, the longest-waiting one; f.mu is held.
func (f *Front) evictionVictimLocked() *frontConn {
	var (
		victim      *frontConn
		vNet, vAddr int
	)
	for c := range f.pending {
		n, a := f.byNet[c.network], f.byAddr[c.addr]
		if victim == nil || n > vNet || n == vNet && (a > vAddr || a == vAddr && c.accepted.Before(victim.accepted)) {
			victim, vNet, vAddr = c, n, a
		}
	}
	return victim
}

// unpendLocked removes c from the unauthenticated sockets' counts; f.mu
// is held.
func (f *Front) unpendLocked(c *frontConn) {
	delete(f.pending, c)
	if f.byAddr[c.addr]--; f.byAddr[c.addr] <= 0 {
		delete(f.byAddr, c.addr)
	}
	if f.byNet[c.network]--; f.byNet[c.network] <= 0 {
		delete(f.byNet, c.network)
	}
}

// attemptSignIn takes a token of c's address's budget for the CONNECT c
// is about to send; false when the address has none left.
func (f *Front) attemptSignIn(c *frontConn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.budget.take(c.addr, time.Now()) {
		return false
	}
	c.charged = true
	return true
}

// releaseLocked gives c's slot back (once); f.mu is held.
func (f *Front) releaseLocked(c *frontConn) {
	if c.released {
		return
	}
	c.released = true
	delete(f.conns, c)
	if c.signedIn {
		f.signedIn--
		return
	}
	f.unpendLocked(c)
}

// Outcomes of Front.signIn.
const (
	signInOK     = iota
	signInClosed // c was evicted or timed out meanwhile
	signInFull   // MaxConnections signed-in sockets already
)

// signIn moves c from the unauthenticated sockets to the signed-in ones.
func (f *Front) signIn(c *frontConn) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c.released {
		return signInClosed
	}
	if c.charged {
		// The server accepted its credentials: not a failure.
		f.budget.give(c.addr, time.Now())
		c.charged = false
	}
	if f.signedIn >= f.cfg.MaxConnections {
		return signInFull
	}
	f.unpendLocked(c)
	c.signedIn = true
	f.signedIn++
	return signInOK
}

// bridge attaches the server's end p and starts the sign-in deadline;
// false (p closed) when c was closed while p was made.
func (c *frontConn) bridge(p net.Conn) bool {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	if c.released {
		_ = p.Close()
		return false
	}
	c.pipe = p
	c.timer = time.AfterFunc(c.f.cfg.AuthTimeout, c.authTimedOut)
	return true
}

// close releases c's slot and closes both its ends (once).
func (c *frontConn) close() {
	c.f.mu.Lock()
	c.f.releaseLocked(c)
	pipe, timer := c.pipe, c.timer
	c.f.mu.Unlock()
	c.closeOnce.Do(func() {
		_ = c.tcp.Close()
	})
	if pipe != nil {
		_ = pipe.Close()
	}
	if timer != nil {
		timer.Stop()
	}
}

// awaitVerdict gives c, which has sent its first line (a CONNECT, or
// the server refuses it at once), up to verdictTimeout more for the
// server's answer: it decides without the client, and is slow only when
// loaded (a bcrypt check under load).
func (c *frontConn) awaitVerdict() {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	if !c.released && !c.signedIn && c.timer != nil {
		c.timer.Reset(verdictTimeout)
	}
}

// authTimedOut closes c if it has not signed in.
func (c *frontConn) authTimedOut() {
	c.f.mu.Lock()
	pending := !c.released && !c.signedIn
	if pending {
		c.f.releaseLocked(c) // a sign-in now comes too late
	}
	c.f.mu.Unlock()
	if !pending {
		return
	}
	c.f.warn.log(slog.LevelWarn, "NATS front: closed a socket that did not sign in in time",
		"remote", c.remote, "cid", c.cid.Load(), "auth_timeout", c.f.cfg.AuthTimeout)
	_ = c.tcp.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = c.tcp.Write([]byte("-ERR 'Authentication Timeout'\r\n"))
	c.close()
}

// toServer copies the client's bytes to the server, with verdictPing
// after the first line once the address's budget allowed it.
func (c *frontConn) toServer() {
	defer c.close()
	buf := make([]byte, frontBufSize)
	lineSent := false
	for {
		n, err := c.tcp.Read(buf)
		p := buf[:n]
		if i := bytes.IndexByte(p, '\n'); i >= 0 && !lineSent {
			lineSent = true
			if !c.f.attemptSignIn(c) {
				c.f.refuse(c, errTooManyFailures)
				return
			}
			// The server's check may take longer than AuthTimeout (and
			// the pipe's Write waits for it to read): wait for its
			// verdict from now on.
			c.awaitVerdict()
			p = append(append(append(make([]byte, 0, n+len(verdictPing)), p[:i+1]...), verdictPing...), p[i+1:]...)
		}
		if !c.write(p) || err != nil {
			return
		}
	}
}

// write writes p (if any) to the server; false if the pipe is closed.
func (c *frontConn) write(p []byte) bool {
	if len(p) == 0 {
		return true
	}
	_, err := c.pipe.Write(p)
	return err == nil
}

// toClient copies the server's bytes to the client, watching them for
// the sign-in until it happened.
func (c *frontConn) toClient() {
	defer c.f.wg.Done()
	defer c.close()
	buf := make([]byte, frontBufSize)
	out := make([]byte, 0, frontBufSize+len("PONG"))
	var w verdictWatch
	signedIn := false
	for {
		n, err := c.pipe.Read(buf)
		if n > 0 {
			p := buf[:n]
			if w.phase != watchDone {
				if c.cid.Load() == 0 {
					c.cid.Store(infoClientID(p))
				}
				var verdict bool
				out, verdict = w.filter(out[:0], p)
				p = out
				if verdict && !signedIn {
					switch c.f.signIn(c) {
					case signInClosed:
						return
					case signInFull:
						c.f.refuse(c, "maximum connections exceeded")
						return
					}
					signedIn = true
					c.f.log(slog.LevelDebug, "NATS front: client signed in", "remote", c.remote, "cid", c.cid.Load())
				}
			}
			_ = c.tcp.SetWriteDeadline(time.Now().Add(frontWriteTimeout))
			if _, werr := c.tcp.Write(p); len(p) > 0 && werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (f *Front) log(level slog.Level, msg string, args ...any) {
	if f.cfg.Log != nil {
		f.cfg.Log.Log(context.Background(), level, msg, append(args, "component", "nats-front")...)
	}
}

// infoClientID reads client_id from the server's INFO line in p (0 when
// it is not there): the cid the server's log names the client by.
func infoClientID(p []byte) uint64 {
	const key = `"client_id":`
	i := bytes.Index(p, []byte(key))
	if i < 0 || !bytes.HasPrefix(p, []byte("INFO ")) {
		return 0
	}
	p = p[i+len(key):]
	j := 0
	for j < len(p) && p[j] >= '0' && p[j] <= '9' {
		j++
	}
	id, _ := strconv.ParseUint(string(p[:j]), 10, 64)
	return id
}

// clientKey is what the per-address cap counts c under: its IPv4
// address, or its IPv6 /64 (one host commonly holds a whole /64); the
// zero Addr if unknown.
func clientKey(c net.Conn) netip.Addr {
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return a
}

// throttledLog logs at most perWindow lines per window: any process that
// reaches the listener can make the front log one, and the log must not
// be theirs to fill. The next line after a suppressed burst says how many
// were dropped.
type throttledLog struct {
	out       Logger
	window    time.Duration
	perWindow int

	mu          sync.Mutex
	windowStart time.Time
	inWindow    int
	dropped     int
}

func (t *throttledLog) log(level slog.Level, msg string, args ...any) {
	if t.out == nil {
		return
	}
	t.mu.Lock()
	now := time.Now()
	if now.Sub(t.windowStart) >= t.window {
		t.windowStart, t.inWindow = now, 0
	}
	if t.inWindow >= t.perWindow {
		t.dropped++
		t.mu.Unlock()
		return
	}
	t.inWindow++
	dropped := t.dropped
	t.dropped = 0
	t.mu.Unlock()
	args = append(args, "component", "nats-front")
	if dropped > 0 {
		args = append(args, "suppressed_lines", dropped)
	}
	t.out.Log(context.Background(), level, msg, args...)
}
