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
