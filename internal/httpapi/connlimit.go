package httpapi

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// LimitConnections returns a listener that lets srv hold at most max
// connections at once (max <= 0: ln unchanged). When a new connection
// arrives at the cap, the connection idle the longest (a keep-alive
// connection between requests, or one that has not sent a request yet) is
// closed to make room; HTTP clients retry a request on a closed idle
// connection. Only when every connection is busy does Accept wait, and
// busy connections end within the server's timeouts. So idle connections
// cannot exhaust the process's file descriptors, and a new client (a
// /health probe) is still served. It sets srv.ConnState (keeping a hook
// already there); call it before srv.Serve.
func LimitConnections(ln net.Listener, srv *http.Server, max int) net.Listener {
	if max <= 0 {
		return ln
	}
	l := &connLimiter{Listener: ln, slots: make(chan struct{}, max), conns: map[*limitedConn]connInfo{},
		done: make(chan struct{})}
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

type connInfo struct {
	state http.ConnState
	since time.Time
}

type connLimiter struct {
	net.Listener
	slots chan struct{}

	mu    sync.Mutex
	conns map[*limitedConn]connInfo

	done      chan struct{}
	closeOnce sync.Once
}

// Accept implements net.Listener.
func (l *connLimiter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	for {
		select {
		case l.slots <- struct{}{}:
			lc := &limitedConn{Conn: c, l: l}
			l.mu.Lock()
			l.conns[lc] = connInfo{state: http.StateNew, since: time.Now()}
			l.mu.Unlock()
			return lc, nil
		case <-l.done:
			_ = c.Close()
			return nil, net.ErrClosed
		default:
		}
		if !l.evictIdle() {
			// Every connection is busy: wait for one to end.
			select {
			case l.slots <- struct{}{}:
				<-l.slots // take it in the loop above, with the bookkeeping
			case <-l.done:
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// Close implements net.Listener.
func (l *connLimiter) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// evictIdle closes the connection idle the longest, if any; it reports
// whether it closed one.
func (l *connLimiter) evictIdle() bool {
	l.mu.Lock()
	var victim *limitedConn
	var oldest time.Time
	for c, info := range l.conns {
		if info.state != http.StateIdle && info.state != http.StateNew {
			continue
		}
		if victim == nil || info.since.Before(oldest) {
			victim, oldest = c, info.since
		}
	}
	l.mu.Unlock()
	if victim == nil {
		return false
	}
	_ = victim.Close()
	return true
}

func (l *connLimiter) setState(c *limitedConn, st http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.conns[c]; !ok {
		return // closed already
	}
	if st == http.StateHijacked || st == http.StateClosed {
		delete(l.conns, c)
		return
	}
	l.conns[c] = connInfo{state: st, since: time.Now()}
}

// limitedConn gives its slot back once, when closed.
type limitedConn struct {
	net.Conn
	l    *connLimiter
	once sync.Once
}

// Close implements net.Conn.
func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		<-c.l.slots
	})
	return err
}
