package httpapi_test

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// Single sign-on: a trusted proxy names the signed-in user in a header. It
// is off by default and accepted only from the configured proxy addresses.
func TestAuthProxy_HeaderTrustedOnlyFromConfiguredProxies(t *testing.T) {
	const header = "X-Forwarded-User"
	tests := []struct {
		name    string
		enabled bool
		trusted string
		login   string
		want    int
	}{
		{"off_by_default", false, "", "dora@example.com", http.StatusUnauthorized},
		{"accepted_from_trusted_proxy_by_email", true, "127.0.0.1/32", "dora@example.com", http.StatusOK},
		{"accepted_from_trusted_proxy_by_username", true, "127.0.0.0/8", "dora", http.StatusOK},
		{"ignored_from_other_addresses", true, "10.1.2.3/32", "dora@example.com", http.StatusUnauthorized},
		{"unknown_user_is_not_signed_in", true, "127.0.0.1/32", "mallory@example.com", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
				if tt.enabled {
					c.AuthProxyHeader = header
					c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix(tt.trusted)}
				}
			})
			s.CreateUser("dora", "Admin")
			r := s.Do("GET", "/api/admin/api-tokens", "", nil, header, tt.login)
			if r.Status != tt.want {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.want, r.Body)
			}
			if tt.want != http.StatusOK {
				servicetest.CheckErrorShape(t, r)
				return
			}
			// A mutation through the proxy is attributed to the user, via auth-proxy.
			s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", "",
				map[string]any{"tokenName": "sso", "type": "frontend", "environment": "development"}, header, tt.login)
			e := s.LastEvent()
			if e.Actor.Kind != events.ActorUser || e.Actor.Name != "dora@example.com" || e.Via.CredentialType != "auth-proxy" {
				t.Fatalf("event attributed to %+v via %+v", e.Actor, e.Via)
			}
		})
	}
}

// ssoProxy has the service take the signed-in user from header, set by a
// single-sign-on proxy at 127.0.0.1 (where every test client connects
// from).
func ssoProxy(header string) func(*service.Config) {
	return func(c *service.Config) {
		c.AuthProxyHeader = header
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}
}
