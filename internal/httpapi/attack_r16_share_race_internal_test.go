package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
)

// The accept loop and a waiter admit newcomers of one address at the same
// time; each checked the address's share and counted its connection
// apart, so both could pass the check and the address hold one more
// connection than its share.
func TestConcurrentAdmissionsKeepTheShare(t *testing.T) {
	const trials = 300
	x := netip.MustParseAddr("127.0.0.5")
	for i := range trials {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l := LimitConnections(ln, &http.Server{}, 8, nil).(*connLimiter) // share 4
		var conns []net.Conn
		for range 3 {
			a, b := net.Pipe()
			conns = append(conns, a, b)
			if lc, _ := l.tryAdmit(a, x, false, true); lc == nil {
				t.Fatal("not admitted")
			}
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range 2 {
			a, b := net.Pipe()
			conns = append(conns, a, b)
			wg.Go(func() {
				<-start
				l.tryAdmit(a, x, false, false)
			})
		}
		close(start)
		wg.Wait()
		l.mu.Lock()
		held := l.byAddr[x]
		l.mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
		_ = l.Close()
		if held > l.perAddr {
			t.Fatalf("trial %d: the address holds %d connections, its share is %d", i, held, l.perAddr)
		}
	}
}
