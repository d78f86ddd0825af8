package httpapi_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The connection cap closes idle connections to make room, but a
// connection whose request body is still arriving is busy: an anonymous
// client that opened --max-connections connections to /edge/validate and
// sent each a Content-Length and no body held every slot until the read
// timeout (15 s), and reconnected. No one else was served, /health
// included: one address must not be able to hold every slot. (The probe
// comes from another loopback address, as another client would; its
// deadline is well below the read timeout the attacker relies on.)
func TestOneAddressCannotHoldEveryConnectionSlot(t *testing.T) {
	const limit = 4
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MaxConnections = limit })
	held := 0
	for range limit {
		c := s.Dial()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		req := "POST /edge/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n"
		if _, err := c.Write([]byte(req)); err != nil {
			continue // refused: this address holds its share already
		}
		// 100 Continue: the handler is reading the body, the connection
		// is busy.
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			continue // refused: this address holds its share already
		}
		if !strings.Contains(line, "100") {
			t.Fatalf("no 100 Continue: %q", line)
		}
		if _, err := c.Write([]byte("{")); err != nil {
			t.Fatal(err)
		}
		held++
	}
	if held == 0 || held >= limit {
		t.Fatalf("one address holds %d busy connections of %d", held, limit)
	}

	other := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	client := &http.Client{Transport: &http.Transport{DialContext: other.DialContext}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL()+"/health", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("/health from another address while one address holds every connection slot: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/health: %d", resp.StatusCode)
	}
}
