package httpapi

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// After a storm of newcomers from many addresses (an exempt one among
// them) at a small cap, with connections closed mid-request, mid-wait and
// right after connecting, and every client gone, the limiter holds
// nothing: no slot, no connection, no count per address, no waiter.
func TestLimiterBookkeepingSettlesAfterAStorm(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 3 * time.Second, ReadTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			if r.URL.Path == "/slow" {
				time.Sleep(150 * time.Millisecond)
			}
			_, _ = io.WriteString(w, "ok\n")
		})}
	exempt := netip.MustParseAddr("127.0.0.99")
	l := LimitConnections(ln, srv, 6, func(a netip.Addr) bool { return a == exempt }).(*connLimiter)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	addr := ln.Addr().String()

	const clients, rounds = 48, 6
	stormOver := make(chan struct{})
	waited := make(chan int, 1)
	go func() { // the most newcomers seen waiting at once
		most := 0
		for {
			l.mu.Lock()
			most = max(most, l.waiters)
			l.mu.Unlock()
			select {
			case <-stormOver:
				waited <- most
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := fmt.Sprintf("127.0.0.%d", 10+i%24)
			if i%8 == 0 {
				from = exempt.String()
			}
			d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
			for r := range rounds {
				c, err := d.Dial("tcp", addr)
				if err != nil {
					continue
				}
				_ = c.SetDeadline(time.Now().Add(3 * time.Second))
				switch (i + r) % 4 {
				case 0: // closed at once
				case 1: // a slow request, answered
					_, _ = io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
					_, _ = bufio.NewReader(c).ReadString('\n')
				case 2: // closed mid-body
					_, _ = io.WriteString(c, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"+strings.Repeat("a", 10))
					time.Sleep(20 * time.Millisecond)
				case 3: // two requests on one connection
					br := bufio.NewReader(c)
					for range 2 {
						_, _ = io.WriteString(c, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
						if resp, err := http.ReadResponse(br, nil); err == nil {
							_, _ = io.Copy(io.Discard, resp.Body)
							_ = resp.Body.Close()
						}
					}
				}
				_ = c.Close()
			}
		}()
	}
	wg.Wait()
	close(stormOver)
	if most := <-waited; most == 0 {
		t.Fatal("no newcomer waited for a slot during the storm: the test does not reach the waiters")
	}

	var state string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		l.mu.Lock()
		state = fmt.Sprintf("slots %d, conns %d, byAddr %v, waiters %d, waitingBy %v",
			len(l.slots), len(l.conns), l.byAddr, l.waiters, l.waitingBy)
		settled := len(l.slots) == 0 && len(l.conns) == 0 && len(l.byAddr) == 0 && l.waiters == 0 && len(l.waitingBy) == 0
		l.mu.Unlock()
		if settled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("every client gone, the limiter still holds: %s", state)
		}
	}
	_ = srv.Close()
	if err := <-served; err != http.ErrServerClosed {
		t.Fatalf("Serve: %v", err)
	}
}
