package httpapi

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// net/http re-arms a connection's deadlines several times per request when
// the server has timeouts (header, whole request, write, idle: eight
// deadline changes per keep-alive request, each a runtime timer added,
// moved or removed), and the bare server none of them: at
// /edge/validate under wrk that was ~1.2 µs of the ~20 µs a request costs
// (issue 16, item 5). A connection of LazyDeadlines applies them lazily:
// it records the deadline asked for and changes the socket's only when the
// new one is earlier than the socket's (a later or no deadline leaves the
// earlier one armed). A socket deadline that passes before the one asked
// for is spurious: the read or write that saw it arms the deadline asked
// for and carries on. So a deadline never fires later than asked for, and
// a read or write fails with os.ErrDeadlineExceeded only when the
// deadline asked for has passed.

// LazyDeadlines returns ln whose connections apply their deadlines
// lazily (see above); an http.Server serves it as it would ln.
func LazyDeadlines(ln net.Listener) net.Listener { return lazyListener{ln} }

type lazyListener struct{ net.Listener }

// Accept implements net.Listener.
func (l lazyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &lazyConn{Conn: c}, nil
}

// lazyConn is a connection whose deadlines are applied lazily.
type lazyConn struct {
	net.Conn
	rd, wd lazyDeadline
}

// lazyDeadline is one direction's deadline of a connection.
type lazyDeadline struct {
	mu    sync.Mutex
	want  time.Time // the deadline asked for; zero: none
	armed time.Time // the socket's deadline; zero: none
}

// set records t as the deadline asked for and arms it when it is earlier
// than the socket's.
func (d *lazyDeadline) set(t time.Time, arm func(time.Time) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.want = t
	if t.IsZero() || (!d.armed.IsZero() && !t.Before(d.armed)) {
		return nil // the socket's deadline is earlier: it stays
	}
	if err := arm(t); err != nil {
		return err
	}
	d.armed = t
	return nil
}

// spurious reports, after a read or write failed with err, whether err is
// a socket deadline that passed before the one asked for; it then arms
// the one asked for, so that the caller may try again.
func (d *lazyDeadline) spurious(err error, arm func(time.Time) error) bool {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.want.IsZero() && !time.Now().Before(d.want) {
		return false // the deadline asked for has passed
	}
	// An earlier socket deadline passed; the one asked for may have been
	// armed meanwhile by another goroutine (set), or not yet.
	if !d.armed.Equal(d.want) {
		if arm(d.want) != nil {
			return false
		}
		d.armed = d.want
	}
	return true
}

// Read implements net.Conn.
func (c *lazyConn) Read(p []byte) (int, error) {
	for {
		n, err := c.Conn.Read(p)
		if n > 0 || err == nil || !c.rd.spurious(err, c.Conn.SetReadDeadline) {
			return n, err
		}
	}
}

// Write implements net.Conn.
func (c *lazyConn) Write(p []byte) (int, error) {
	written := 0
	for {
		n, err := c.Conn.Write(p[written:])
		written += n
		if err == nil || !c.wd.spurious(err, c.Conn.SetWriteDeadline) {
			return written, err
		}
	}
}

// SetDeadline implements net.Conn.
func (c *lazyConn) SetDeadline(t time.Time) error {
	return errors.Join(c.SetReadDeadline(t), c.SetWriteDeadline(t))
}

// SetReadDeadline implements net.Conn.
func (c *lazyConn) SetReadDeadline(t time.Time) error {
	return c.rd.set(t, c.Conn.SetReadDeadline)
}

// SetWriteDeadline implements net.Conn.
func (c *lazyConn) SetWriteDeadline(t time.Time) error {
	return c.wd.set(t, c.Conn.SetWriteDeadline)
}

// NetConn is the connection c wraps.
func (c *lazyConn) NetConn() net.Conn { return c.Conn }
