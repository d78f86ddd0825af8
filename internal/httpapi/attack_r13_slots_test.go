package httpapi_test

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// holdBusy opens a connection from from whose /edge/validate body never
// arrives (headers, 100 Continue, one byte): the connection is busy until
// the read timeout. It reports whether the server took it.
func holdBusy(t *testing.T, s *servicetest.Service, from string) bool {
	t.Helper()
	c, err := r13Dial(t, s, from, false)
	if err != nil {
		return false
	}
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	req := "POST /edge/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.Contains(line, "100") {
		return false
	}
	_, err = c.Write([]byte("{"))
	return err == nil
}

// holdUnread opens a connection from from with a receive window of a few
// KiB and pipelines more /openapi.json answers (200 KB each) than the
// kernel's buffers hold, reading none: the connection is busy writing
// until the write timeout (25 s). It reports whether the server took it.
func holdUnread(t *testing.T, s *servicetest.Service, from string) bool {
	t.Helper()
	c, err := r13Dial(t, s, from, true)
	if err != nil {
		return false
	}
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Write([]byte(strings.Repeat("GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n", 40)))
	return err == nil
}

// One address holds at most half of the connection slots, so that /health
// always gets in; but the share is per exact address (IPv6 too, not per
// /64 as the rate limits count), and addresses are cheap: two loopback
// addresses of one /24 each take their half with busy connections (bodies
// that never arrive: busy until the read timeout, 15 s; or pipelined
// answers never read: busy until the write timeout, 25 s), renewable, and
// no slot is left. /health from a third address is not answered meanwhile
// (its deadline is well below the timeouts the attacker relies on).
func TestTwoAddressesCannotHoldEveryConnectionSlot(t *testing.T) {
	for _, tt := range []struct {
		name string
		hold func(*testing.T, *servicetest.Service, string) bool
	}{
		{"bodies that never arrive", holdBusy},
		{"answers never read", holdUnread},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const limit = 4
			s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MaxConnections = limit })
			held := 0
			for _, from := range []string{"127.0.0.2", "127.0.0.3"} {
				for range limit {
					if tt.hold(t, s, from) {
						held++
					}
				}
			}
			time.Sleep(500 * time.Millisecond) // the server fills the unread connections' buffers
			t.Logf("the two addresses opened %d busy connections (cap %d)", held, limit)

			if err := healthFrom(t, s, "127.0.0.4"); err != nil {
				t.Fatalf("/health from a third address while two addresses of one /24 hold every slot with %s: %v", tt.name, err)
			}
		})
	}
}

// healthFrom asks for /health on a new connection from the loopback
// address from, and gives the server 5 s to answer 200.
func healthFrom(t *testing.T, s *servicetest.Service, from string) error {
	t.Helper()
	c, err := r13Dial(t, s, from, false)
	if err != nil {
		return err
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}
