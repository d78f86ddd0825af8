package httpapi_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The auth-proxy header names the signed-in user. A proxy that adds its
// header instead of replacing the client's (Apache "RequestHeader add", an
// appending rule in a chain of proxies) forwards two values, the client's
// first. An identity header that arrives more than once, in any case, is
// ambiguous and signs no one in.
func TestAuthProxyHeaderSentMoreThanOnceSignsNoOneIn(t *testing.T) {
	const header = "X-Forwarded-User"
	s := servicetest.StartWith(t, "", nil, ssoProxy(header))
	s.CreateUser("boss", "Admin")
	s.CreateUser("alice", "Viewer")
	for name, headers := range map[string]string{
		"same_case":  "X-Forwarded-User: boss\r\nX-Forwarded-User: alice\r\n",
		"other_case": "x-forwarded-user: boss\r\nX-Forwarded-User: alice\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			r := rawRequest(t, s, "GET /api/admin/user HTTP/1.1\r\nHost: x\r\n"+headers+"Connection: close\r\n\r\n")
			b, _ := io.ReadAll(r.Body)
			if r.StatusCode != http.StatusUnauthorized && r.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 401 or 400: %s", r.StatusCode, b)
			}
		})
	}
}
