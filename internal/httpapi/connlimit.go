package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// LimitConnections returns a listener that lets srv hold at most limit
// connections at once (max <= 0: ln unchanged). When a new connection
// arrives at the cap, the connection idle the longest (a keep-alive
// connection between requests, or one that has not sent a request yet) is
// closed to make room; HTTP clients retry a request on a closed idle
// connection. When every connection is busy, a newcomer that may evict
// none (see below) waits for a slot apart from Accept (at most
// maxSlotWait, at most maxSlotWaiters newcomers and one per address at once;
// beyond, it is closed), so one newcomer cannot hold back those queued
// behind it and a newcomer of an honest burst is served once a busy
// request ends (atk-r15). So idle connections
// cannot exhaust the process's file descriptors, and a new client (a
// /health probe) is still served. One client address may hold at most
// half of the slots (exempt: addresses for which exempt reports true, such
// as a trusted proxy carrying everyone's requests): a connection whose
// request is still arriving is busy and cannot be evicted, so without
// this one address could hold every slot until the read timeout. It sets
// srv.ConnState (keeping a hook already there); call it before srv.Serve.
//
// Addresses are cheap, so the share alone does not keep a slot for a new
// client: two addresses could hold every slot with busy connections
// (atk-r13). When every connection is busy, a newcomer whose address holds
// fewer connections than another address by two or more closes that
// address's connection busy the longest: shares converge to equal, an
// address holding one connection is never evicted by another, and taking
// every slot needs as many addresses as slots. An IPv6 address counts by
// its /64 (one host's), an IPv4 address alone.
func LimitConnections(ln net.Listener, srv *http.Server, limit int, exempt func(netip.Addr) bool) net.Listener {
	if limit <= 0 {
		return ln
	}
	if exempt == nil {
		exempt = func(netip.Addr) bool { return false }
	}
	l := &connLimiter{Listener: ln, slots: make(chan struct{}, limit), conns: map[*limitedConn]struct{}{},
		done: make(chan struct{}), perAddr: max(limit/2, 1), byAddr: map[netip.Addr]int{}, exempt: exempt,
		ready: make(chan acceptResult), maxWaiters: min(limit, maxSlotWaiters), waitingBy: map[netip.Addr]int{}}
	prev := srv.ConnState
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		if lc, ok := c.(*limitedConn); ok && lc.l == l {
			l.setState(lc, st)
		}
		if prev != nil {
			prev(c, st)
		}
	}
	return l
}

type connLimiter struct {
	net.Listener
	slots chan struct{}

	// perAddr caps the connections of one client address.
	perAddr int
	exempt  func(netip.Addr) bool

	mu     sync.Mutex
	conns  map[*limitedConn]struct{}
	byAddr map[netip.Addr]int

	done      chan struct{}
	closeOnce sync.Once

	// The underlying Accept runs in a goroutine of its own (started by
	// the first Accept), which admits newcomers and hands them to Accept
	// through ready; a newcomer that must wait for a slot waits in a
	// goroutine of its own (waiters of them, waitingBy per address, under
	// mu), so the newcomers behind it are admitted meanwhile.
	start      sync.Once
	ready      chan acceptResult
	maxWaiters int
	waiters    int
	waitingBy  map[netip.Addr]int
}

// maxSlotWaiters bounds the newcomers waiting for a slot at once (below
// the cap when it is larger): each polls the limiter ten times a second,
// a search of every connection, while every connection is busy.
const maxSlotWaiters = 128

// maxSlotWait is how long a newcomer waits for a slot when every
// connection is busy and it may evict none; it is closed then.
const maxSlotWait = 10 * time.Second

// acceptResult is what Accept returns.
type acceptResult struct {
	c   net.Conn
	err error
}

// Accept implements net.Listener.
func (l *connLimiter) Accept() (net.Conn, error) {
	l.start.Do(func() { go l.acceptLoop() })
	select {
	case r := <-l.ready:
		return r.c, r.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// acceptLoop accepts newcomers and admits them (admit), until the
// limiter is closed.
func (l *connLimiter) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if !l.deliver(acceptResult{err: err}) {
				return
			}
			continue
		}
		l.admit(c)
	}
}

// deliver hands r to Accept; it reports false, closing r's connection,
// when the limiter was closed first.
func (l *connLimiter) deliver(r acceptResult) bool {
	select {
	case l.ready <- r:
		return true
	case <-l.done:
		if r.c != nil {
			_ = r.c.Close()
		}
		return false
	}
}

// admit gives c a slot and hands it to Accept, closes it when its address
// already holds its share and none of those connections is idle, or has
// it wait for a slot (wait) when every connection is busy and it may
// evict none.
func (l *connLimiter) admit(c net.Conn) {
	real := connAddr(c)
	addr, exempt := clientGroup(real), l.exempt(real)
	lc, refused := l.tryAdmit(c, addr, exempt, true)
	switch {
	case lc != nil:
		l.deliver(acceptResult{c: lc})
	case refused:
	default:
		// Every connection is busy and c may evict none. Waiting here
		// would hold every newcomer behind c in the listen queue, those
		// that may evict included (atk-r14); closing c would lose an
		// honest request that a busy one ending would let in (atk-r15).
		l.mu.Lock()
		park := l.waiters < l.maxWaiters && (exempt || l.waitingBy[addr] == 0)
		if park {
			l.waiters++
			l.waitingBy[addr]++
		}
		l.mu.Unlock()
		if !park {
			_ = c.Close()
			return
		}
		go l.wait(c, addr, exempt)
	}
}

// wait admits c once a slot frees or a connection may be evicted, or
// closes it after maxSlotWait, when its client is gone or when the limiter
// is closed.
func (l *connLimiter) wait(c net.Conn, addr netip.Addr, exempt bool) {
	defer func() {
		l.mu.Lock()
		l.waiters--
		if l.waitingBy[addr]--; l.waitingBy[addr] <= 0 {
			delete(l.waitingBy, addr)
		}
		l.mu.Unlock()
	}()
	give := time.NewTimer(maxSlotWait)
	defer give.Stop()
	for {
		select {
		case l.slots <- struct{}{}:
			<-l.slots // a slot freed: take it in tryAdmit, with the bookkeeping
		case <-time.After(100 * time.Millisecond): // a busy connection may have gone idle
		case <-give.C:
			_ = c.Close()
			return
		case <-l.done:
			_ = c.Close()
			return
		}
		if peerGone(c) { // its place goes to a newcomer still there (atk-r16)
			_ = c.Close()
			return
		}
		// A waiter evicts idle connections only, never a newcomer that has
		// not sent its request yet: polling, it would close every one
		// admitted meanwhile (a /health that evicted for its share).
		lc, refused := l.tryAdmit(c, addr, exempt, false)
		if lc != nil {
			l.deliver(acceptResult{c: lc})
			return
		}
		if refused {
			return
		}
	}
}

// tryAdmit gives c a slot, taking a free one or evicting for it; it
// closes c and reports refused when c's address holds its share and none
// of those connections is idle, or the limiter is closed. Neither: every
// connection is busy and c may evict none. evictNew: connections that
// have not sent a request yet may be evicted as idle ones.
func (l *connLimiter) tryAdmit(c net.Conn, addr netip.Addr, exempt, evictNew bool) (lc *limitedConn, refused bool) {
	if !exempt {
		l.mu.Lock()
		over := l.byAddr[addr] >= l.perAddr
		l.mu.Unlock()
		if over && !l.evictIdleOf(addr, true, evictNew) {
			_ = c.Close()
			return nil, true
		}
	}
	for {
		select {
		case l.slots <- struct{}{}:
			l.mu.Lock()
			if !exempt && l.byAddr[addr] >= l.perAddr {
				// Another newcomer of addr was counted since the check
				// (the accept loop and a waiter at once): check again.
				l.mu.Unlock()
				<-l.slots
				return l.tryAdmit(c, addr, exempt, evictNew)
			}
			lc := &limitedConn{Conn: c, l: l, addr: addr, exempt: exempt}
			lc.idleSince.Store(time.Now().UnixNano())
			lc.state.Store(int32(http.StateNew))
			l.conns[lc] = struct{}{}
			if !exempt {
				l.byAddr[addr]++
			}
			l.mu.Unlock()
			return lc, false
		case <-l.done:
			_ = c.Close()
			return nil, true
		default:
		}
		if !l.evictIdleOf(netip.Addr{}, false, evictNew) && !l.evictForShare(addr) {
			return nil, false
		}
	}
}

// Close implements net.Listener.
func (l *connLimiter) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// evictIdleOf closes the connection idle the longest (of addr only, when
// onlyAddr; one that has not sent a request yet counts as idle when
// evictNew), if any; it reports whether it closed one.
func (l *connLimiter) evictIdleOf(addr netip.Addr, onlyAddr, evictNew bool) bool {
	l.mu.Lock()
	victim := l.oldest(func(c *limitedConn) bool {
		st := http.ConnState(c.state.Load())
		return (st == http.StateIdle || evictNew && st == http.StateNew) && (!onlyAddr || c.addr == addr)
	})
	l.mu.Unlock()
	return closeVictim(victim)
}

// evictForShare closes, when every connection is busy, the connection busy
// the longest of the address holding the most connections, if that is at
// least two more than addr holds (exempt connections are not counted and
// never chosen); it reports whether it closed one.
func (l *connLimiter) evictForShare(addr netip.Addr) bool {
	l.mu.Lock()
	own := l.byAddr[addr]
	var most netip.Addr
	held := 0
	for a, n := range l.byAddr {
		if n > held && a != addr {
			most, held = a, n
		}
	}
	var victim *limitedConn
	if held >= own+2 {
		victim = l.oldest(func(c *limitedConn) bool { return c.addr == most && !c.exempt })
	}
	l.mu.Unlock()
	return closeVictim(victim)
}

// oldest is the connection that became idle (or new) the longest ago among
// those pick accepts, or nil; l.mu is held.
func (l *connLimiter) oldest(pick func(*limitedConn) bool) *limitedConn {
	var victim *limitedConn
	var at int64
	for c := range l.conns {
		if !pick(c) {
			continue
		}
		if since := c.idleSince.Load(); victim == nil || since < at {
			victim, at = c, since
		}
	}
	return victim
}

// closeVictim closes c, if any, and reports whether it did.
func closeVictim(c *limitedConn) bool {
	if c == nil {
		return false
	}
	_ = c.Close()
	return true
}

// clientGroup is the address a client's connections count under: an IPv6
// address's /64, an IPv4 address itself.
func clientGroup(a netip.Addr) netip.Addr {
	if a.Is6() && !a.Is4In6() {
		if p, err := a.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return a
}

// setState records a connection's state. The server calls it twice per
// request (active, then idle): those calls store into the connection
// itself and take no lock, so the requests of many connections do not
// queue on the limiter.
func (l *connLimiter) setState(c *limitedConn, st http.ConnState) {
	if st == http.StateHijacked || st == http.StateClosed {
		l.mu.Lock()
		l.forget(c)
		l.mu.Unlock()
		return
	}
	if st == http.StateIdle || st == http.StateNew {
		c.idleSince.Store(time.Now().UnixNano())
	}
	c.state.Store(int32(st))
}

// forget drops c's bookkeeping; l.mu is held.
func (l *connLimiter) forget(c *limitedConn) {
	if _, ok := l.conns[c]; !ok {
		return
	}
	delete(l.conns, c)
	if c.exempt {
		return
	}
	if l.byAddr[c.addr]--; l.byAddr[c.addr] <= 0 {
		delete(l.byAddr, c.addr)
	}
}

// connAddr is the client address of c (the zero Addr if unknown).
func connAddr(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// limitedConn gives its slot back once, when closed.
type limitedConn struct {
	net.Conn
	l    *connLimiter
	addr netip.Addr // clientGroup's
	// exempt: the limiter's exempt reported true for its address; not
	// counted in byAddr.
	exempt bool
	once   sync.Once
	// state is the connection's http.ConnState and idleSince when it
	// last became idle or new (Unix ns), read by evictIdleOf.
	state     atomic.Int32
	idleSince atomic.Int64
}

// Close implements net.Conn.
func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.forget(c)
		c.l.mu.Unlock()
		<-c.l.slots
	})
	return err
}
