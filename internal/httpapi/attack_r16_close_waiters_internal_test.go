package httpapi

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// limiterGoroutines counts the goroutines running in the limiter (its
// accept loop and its waiters).
func limiterGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "(*connLimiter).acceptLoop") || strings.Contains(g, "(*connLimiter).wait(") {
			n++
		}
	}
	return n
}

// Closing the server while newcomers wait for a slot (every connection
// busy) ends the accept loop and every waiter, and closes the waiting
// newcomers' connections: none is left open or served after the close.
func TestLimiterCloseWithWaitersLeavesNothing(t *testing.T) {
	for _, tt := range []struct {
		name  string
		close func(*http.Server) error
	}{
		{"Close", func(s *http.Server) error { return s.Close() }},
		{"Shutdown", func(s *http.Server) error {
			go func() { time.Sleep(300 * time.Millisecond); _ = s.Close() }() // the busy ones never end
			_ = s.Shutdown(t.Context())
			return nil
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := limiterGoroutines()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			release := make(chan struct{})
			defer close(release)
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-release:
				case <-r.Context().Done():
				}
			})}
			const limit, waiting = 2, 2
			l := LimitConnections(ln, srv, limit, nil).(*connLimiter)
			served := make(chan error, 1)
			go func() { served <- srv.Serve(l) }()
			dial := func(from string) net.Conn {
				d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
				c, err := d.Dial("tcp", ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = c.Close() })
				_ = c.SetDeadline(time.Now().Add(15 * time.Second))
				_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				return c
			}
			for i := range limit {
				dial(fmt.Sprintf("127.0.0.%d", 2+i))
			}
			until := func(what string, ok func() bool) {
				for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("%s", what)
					}
				}
			}
			until("the busy connections hold every slot", func() bool {
				l.mu.Lock()
				defer l.mu.Unlock()
				busy := 0
				for c := range l.conns {
					if http.ConnState(c.state.Load()) == http.StateActive {
						busy++
					}
				}
				return busy == limit
			})
			var waiters []net.Conn
			for i := range waiting {
				waiters = append(waiters, dial(fmt.Sprintf("127.0.0.%d", 20+i)))
			}
			until("the newcomers wait", func() bool { l.mu.Lock(); defer l.mu.Unlock(); return l.waiters == waiting })
			_ = tt.close(srv)
			if err := <-served; err != http.ErrServerClosed {
				t.Fatalf("Serve: %v", err)
			}
			until(fmt.Sprintf("limiter goroutines still running after the close: %d", limiterGoroutines()-before),
				func() bool { return limiterGoroutines() <= before })
			for i, c := range waiters {
				line, err := bufio.NewReader(c).ReadString('\n')
				if err == nil {
					t.Errorf("waiting newcomer %d was served after the close: %q", i, line)
				}
			}
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.waiters != 0 || len(l.waitingBy) != 0 || len(l.conns) != 0 || len(l.byAddr) != 0 || len(l.slots) != 0 {
				t.Errorf("after the close: waiters %d %v, conns %d, byAddr %v, slots %d", l.waiters, l.waitingBy, len(l.conns), l.byAddr, len(l.slots))
			}
		})
	}
}
