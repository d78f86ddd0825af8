package httpapi_test

import (
	"bufio"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// startSlowUpload opens a connection from from and sends a /edge/validate
// request whose body arrives in two parts: the connection is busy (its
// request still arriving) until finish sends the rest, as an honest client
// on a slow link. It returns finish, which sends the rest and reads the
// answer, or nil when the server did not take the connection.
func startSlowUpload(t *testing.T, s *servicetest.Service, from string) func() error {
	t.Helper()
	c, err := r13Dial(t, s, from, false)
	if err != nil {
		return nil
	}
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	const size = 1000
	req := "POST /edge/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		return nil
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.Contains(line, "100") {
		return nil
	}
	if _, err := br.ReadString('\n'); err != nil { // the blank line after 100 Continue
		return nil
	}
	first := `{"tokens":[`
	if _, err := c.Write([]byte(first)); err != nil {
		return nil
	}
	return func() error {
		rest := "]}" + strings.Repeat(" ", size-len(first)-2)
		if _, err := c.Write([]byte(rest)); err != nil {
			return err
		}
		_, err := br.ReadString('\n')
		return err
	}
}

// When every connection slot is busy and a newcomer may evict nobody, the
// limiter closes the newcomer at once (atk-r14); before, Accept waited
// (re-checking every 100 ms) until a busy connection ended its request
// and could be evicted as idle. Honest clients now lose requests that a
// moment's wait would have served: a burst of one more client than
// --max-connections, each address holding one connection (a fresh
// address's /health included), and above all every client behind a
// trusted proxy, whose connections are exempt from the share and so may
// never evict: each request the proxy opens a connection for while its
// connections are all busy is dropped (a 502 at the proxy). Here the busy
// requests end 300 ms after the newcomer arrives.
func TestNewcomerAtBusyCapIsServedWhenABusyRequestEnds(t *testing.T) {
	for _, tt := range []struct {
		name    string
		holders []string // one busy connection from each
		from    string   // the newcomer's address
		proxies []netip.Prefix
	}{
		{"one connection from each of four addresses, /health from a fifth",
			[]string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"}, "127.0.0.9", nil},
		{"every connection from a trusted proxy, one more from it",
			[]string{"127.0.0.7", "127.0.0.7", "127.0.0.7", "127.0.0.7"}, "127.0.0.7",
			[]netip.Prefix{netip.MustParsePrefix("127.0.0.7/32")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const limit = 4
			s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
				c.MaxConnections = limit
				c.TrustedProxies = tt.proxies
			})
			var finish []func() error
			for _, from := range tt.holders {
				if f := startSlowUpload(t, s, from); f != nil {
					finish = append(finish, f)
				}
			}
			if len(finish) != limit {
				t.Fatalf("%d busy connections, want every slot (%d)", len(finish), limit)
			}
			ended := endUploadsAfter(t, 300*time.Millisecond, finish)
			err := healthFrom(t, s, tt.from)
			ended()
			if err != nil {
				t.Fatalf("/health from %s while %d honest uploads hold every slot for 300 ms more: %v (the newcomer was closed instead of served when a slot came free)", tt.from, limit, err)
			}
		})
	}
}
