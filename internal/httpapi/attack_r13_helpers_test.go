package httpapi_test

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// r13Dial opens a connection to s's HTTP listener from the loopback
// address from ("" for any), with a receive buffer of a few KiB when
// smallWindow (a client on a slow link, or one that never reads). It is
// closed when the test ends.
func r13Dial(t *testing.T, s *servicetest.Service, from string, smallWindow bool) (net.Conn, error) {
	t.Helper()
	d := &net.Dialer{Timeout: 2 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	if smallWindow {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	c, err := d.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, nil
}

// dialSmallWindow is r13Dial with a small receive window from any address.
func dialSmallWindow(t *testing.T, s *servicetest.Service) net.Conn {
	t.Helper()
	c, err := r13Dial(t, s, "", true)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// createTokens creates n tokens of type typ in development as the admin,
// named name-<i>.
func createTokens(t *testing.T, s *servicetest.Service, n int, typ, name string) {
	t.Helper()
	for i := range n {
		s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", servicetest.AdminSecret,
			map[string]any{"tokenName": fmt.Sprintf("%s-%04d", name, i), "type": typ, "environment": "development"})
	}
}
