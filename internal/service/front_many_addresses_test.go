package service_test

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// README: the front bounds sockets that have not signed in "so a flood of
// anonymous sockets cannot keep readers out". An attacker holding more
// addresses than the front has unauthenticated slots (128 loopback
// addresses for 64 slots here; one IPv6 /56 holds 256 /64s, one
// per-address key each) keeps every slot churning: each new socket evicts
// the longest-waiting one, and with every address at one socket that is
// anyone's. A reader whose CONNECT takes half a second to arrive (a long
// link, a TLS-terminating hop, a slow bcrypt check: the front grants 2 s)
// is evicted before it signs in, every time. Each attacker socket sends
// nothing and redials as soon as it is closed; the flood is bounded in
// time and count.
func TestReaderSignsInDuringAnonymousFloodFromManyAddresses(t *testing.T) {
	const (
		addresses = 2 * jsstore.DefaultMaxUnauthenticated
		maxDials  = 200_000
		floodFor  = 30 * time.Second // an upper bound: the flood stops when the test ends
		attempts  = 5
		linkDelay = 500 * time.Millisecond // the reader's CONNECT arrives this late (AuthTimeout is 2 s)
	)
	s := startWithReaders(t, "", nil)
	u, err := url.Parse(s.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	// signIn is a reader on a slow link: INFO, then CONNECT and PING
	// linkDelay later; it reports the server's answer.
	signIn := func() error {
		c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		r := bufio.NewReader(c)
		if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "INFO ") {
			return fmt.Errorf("first line %q: %v", line, err)
		}
		time.Sleep(linkDelay) // the link's latency, not an assertion
		if _, err := fmt.Fprintf(c, "CONNECT {\"verbose\":false,\"user\":%q,\"pass\":%q}\r\nPING\r\n", testReader, testReaderPW); err != nil {
			return err
		}
		for range 10 { // bounded: INFO and PING may come first
			line, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			if strings.HasPrefix(line, "PONG") {
				return nil
			}
			if strings.HasPrefix(line, "-ERR") {
				return fmt.Errorf("%s", strings.TrimSpace(line))
			}
		}
		return fmt.Errorf("no PONG")
	}
	if err := signIn(); err != nil {
		t.Fatalf("reader sign-in without a flood: %v", err)
	}

	stop := make(chan struct{})
	deadline := time.Now().Add(floodFor)
	var dials atomic.Int64
	var wg sync.WaitGroup
	for i := range addresses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+i/200), byte(1+i%200))}, Timeout: time.Second}
			buf := make([]byte, 4096)
			for dials.Add(1) <= maxDials && time.Now().Before(deadline) {
				select {
				case <-stop:
					return
				default:
				}
				c, err := d.Dial("tcp", u.Host)
				if err != nil {
					continue
				}
				_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
				for { // hold the socket, sending nothing, until the front closes it
					if _, err := c.Read(buf); err != nil {
						break
					}
				}
				_ = c.Close()
			}
		}()
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()
	servicetest.WaitFor(t, 10*time.Second, func() error {
		if n := dials.Load(); n < 3*addresses {
			return fmt.Errorf("the flood made %d sockets", n)
		}
		return nil
	})

	var errs []string
	for range attempts {
		err := signIn()
		if err == nil {
			return
		}
		errs = append(errs, err.Error())
	}
	t.Fatalf("a reader could not sign in in %d attempts during a flood of anonymous sockets from %d loopback addresses (%d sockets so far): %s",
		attempts, addresses, dials.Load(), strings.Join(errs, "; "))
}
