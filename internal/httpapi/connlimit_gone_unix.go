//go:build linux || darwin || freebsd || netbsd || openbsd

package httpapi

import (
	"errors"
	"net"
	"syscall"
)

// peerGone reports whether c's client closed or reset the connection
// and sent nothing that is still unread, without taking any byte from
// it (false when that cannot be told).
func peerGone(c net.Conn) bool {
	for {
		if u, ok := c.(interface{ NetConn() net.Conn }); ok {
			c = u.NetConn()
			continue
		}
		break
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	gone := false
	var b [1]byte
	if err := rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		gone = n == 0 && err == nil || errors.Is(err, syscall.ECONNRESET)
		return true
	}); err != nil {
		return errors.Is(err, net.ErrClosed) // a deadline passed: not told
	}
	return gone
}
