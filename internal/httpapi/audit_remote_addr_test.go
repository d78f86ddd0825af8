package httpapi_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// Behind the TLS-terminating proxy the README asks for, the ledger knows
// the client (the rightmost X-Forwarded-For address a trusted proxy
// added: the rate limits charge it), but the audit record's remoteAddr is
// the connection's, the proxy's: every event of every client then says it
// came from the proxy, and the trail cannot answer "from where". The
// audit record must name the client the ledger itself trusts.
func TestAuditRecordsTheClientBehindATrustedProxy(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	const client = "203.0.113.7"
	s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", servicetest.AdminSecret,
		map[string]any{"tokenName": "via-proxy", "type": "backend", "environment": "development"},
		"X-Forwarded-For", client)
	ev := s.LastEvent()
	if !strings.Contains(ev.Via.RemoteAddr, client) {
		t.Fatalf("%s recorded from %q, want the client %s that the trusted proxy named", ev.Type, ev.Via.RemoteAddr, client)
	}
}

// A client that connects directly chooses its X-Forwarded-For header: the
// audit record names the connection, whatever the header says, when the
// peer is not a trusted proxy.
func TestAuditIgnoresForwardedForFromAnUntrustedPeer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
	}{
		{"no trusted proxies", nil},
		{"another trusted proxy", []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.TrustedProxies = tc.trusted })
			s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", servicetest.AdminSecret,
				map[string]any{"tokenName": "direct", "type": "backend", "environment": "development"},
				"X-Forwarded-For", "203.0.113.7")
			ev := s.LastEvent()
			if !strings.HasPrefix(ev.Via.RemoteAddr, "127.0.0.1:") {
				t.Fatalf("%s recorded from %q, want the connection's 127.0.0.1:port", ev.Type, ev.Via.RemoteAddr)
			}
		})
	}
}
