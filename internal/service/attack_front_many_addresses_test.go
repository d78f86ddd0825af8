package service_test

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// README: the front bounds sockets that have not signed in "so a flood of
// anonymous sockets cannot keep readers out". An attacker holding more
// addresses than the front has unauthenticated slots (128 loopback
// addresses for 64 slots here; one IPv6 /56 holds 256 /64s, one
// per-address key each) keeps every slot churning: each new socket evicts
// the longest-waiting one, and with every address at one socket that is
// anyone's, the reader's included, while the server checks its bcrypt
// password (cost 10, as "nats server passwd" makes them). Each attacker
// socket redials as soon as it is closed; the flood is bounded in time
// and count.
func TestReaderSignsInDuringAnonymousFloodFromManyAddresses(t *testing.T) {
	const (
		addresses = 2 * jsstore.DefaultMaxUnauthenticated
		maxDials  = 200_000
		floodFor  = 8 * time.Second
		attempts  = 5
	)
	hash, err := bcrypt.GenerateFromPassword([]byte(testReaderPW), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	readers, err := jsstore.ParseReaders(testReader + ":" + string(hash))
	if err != nil {
		t.Fatal(err)
	}
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
		c.NATSListen = "127.0.0.1:0"
		c.NATSReaders = readers
	})
	u, err := url.Parse(s.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	// Without the flood the reader signs in.
	nc, err := nats.Connect(s.NATSURL(), nats.UserInfo(testReader, testReaderPW), nats.NoReconnect())
	if err != nil {
		t.Fatalf("reader connect without a flood: %v", err)
	}
	nc.Close()

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
	servicetest.WaitFor(t, 5*time.Second, func() error {
		if n := dials.Load(); n < 20*addresses {
			return fmt.Errorf("the flood made %d sockets", n)
		}
		return nil
	})

	var errs []error
	for range attempts {
		nc, err := nats.Connect(s.NATSURL(), nats.UserInfo(testReader, testReaderPW), nats.NoReconnect(),
			nats.Timeout(2*time.Second))
		if err == nil {
			nc.Close()
			return
		}
		errs = append(errs, err)
	}
	t.Fatalf("a reader could not sign in in %d attempts during a flood of anonymous sockets from %d loopback addresses (%d sockets so far): %v",
		attempts, addresses, dials.Load(), errors.Join(errs...))
}
