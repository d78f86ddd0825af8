package httpapi_test

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// Behind the TLS-terminating proxy the README asks operators to run, every
// client arrives from the proxy's address, and the per-address budget of
// unknown tokens and failed authentications is kept per connection address
// only. So it becomes one budget for everyone: an anonymous client sending
// a burst of guesses through the proxy got every Unleash Edge and every
// API client 429, valid tokens included, for as long as it kept going.
// The proxy names the client in X-Forwarded-For; from a trusted proxy
// address, that is the address to charge.
func TestOneClientBehindTheTrustedProxyCannotLockOutTheOthers(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
		c.UnauthRate, c.UnauthBurst = 0.001, 3
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	valid, _ := s.CreateToken("client", "development", "default")
	const attacker, edge, apiClient = "203.0.113.9", "198.51.100.7", "198.51.100.8"
	for range 5 {
		s.Do("POST", "/edge/validate", "", map[string]any{"tokens": guesses("x", 1)}, "X-Forwarded-For", attacker)
		s.Do("GET", "/api/admin/user", "guess", nil, "X-Forwarded-For", attacker)
	}
	// The attacker itself is limited.
	checkTooMany(t, s.Do("POST", "/edge/validate", "", map[string]any{"tokens": []string{"more"}}, "X-Forwarded-For", attacker))
	// Other clients behind the same proxy are not.
	r := s.Do("POST", "/edge/validate", "", map[string]any{"tokens": []string{valid}}, "X-Forwarded-For", edge)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), valid) {
		t.Fatalf("Edge behind the proxy: status %d after another client's guesses: %s", r.Status, r.Body)
	}
	r = s.Do("GET", "/api/admin/api-tokens", servicetest.AdminSecret, nil, "X-Forwarded-For", apiClient)
	if r.Status != http.StatusOK {
		t.Fatalf("API client behind the proxy: status %d after another client's guesses: %s", r.Status, r.Body)
	}
}

// The other side of the same rule: from an address that is not a trusted
// proxy, X-Forwarded-For is the client's own claim and must not buy a new
// budget.
func TestForwardedForFromAnUntrustedAddressDoesNotResetTheBudget(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
		c.UnauthRate, c.UnauthBurst = 0.001, 3
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")}
	})
	for i := range 3 {
		s.Must(http.StatusOK, "POST", "/edge/validate", "", map[string]any{"tokens": guesses("y", 1)},
			"X-Forwarded-For", "198.51.100."+strconv.Itoa(i+1))
	}
	checkTooMany(t, s.Do("POST", "/edge/validate", "", map[string]any{"tokens": []string{"z"}}, "X-Forwarded-For", "198.51.100.99"))
	checkTooMany(t, s.Do("GET", "/api/admin/user", "guess", nil, "X-Forwarded-For", "198.51.100.100, 127.0.0.1"))
}
