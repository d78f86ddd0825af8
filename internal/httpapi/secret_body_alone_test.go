package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A secret of Unleash's shape is "<projects>:<environment>.<hash>", and the
// prefix is public: the trail and the feed show every token's projects and
// environment, and an admin token's is "*:*.". So the hash alone is the
// secret. The hash of a secret given at start (an admin token, an imported
// INIT token: no 48-hex run to catch) is recognised alone too: as the
// X-Request-Id it is not echoed or stored, in a reason it is scrubbed
// (atk-r10).
func TestASecretWithoutItsPublicPrefixNeverReachesLogOrStream(t *testing.T) {
	s := servicetest.StartWith(t, "", map[string]string{"INIT_BACKEND_API_TOKENS": r10InitSecret},
		func(c *service.Config) { c.MutationRate = 0 })
	tail := func(v string) string { return v[strings.IndexByte(v, '.')+1:] }
	for _, tt := range []struct{ name, header, value, canary string }{
		{"the imported token's hash as the X-Request-Id", "X-Request-Id", tail(r10InitSecret), tail(r10InitSecret)},
		{"the admin token's hash as the X-Request-Id", "X-Request-Id", tail(servicetest.AdminSecret), tail(servicetest.AdminSecret)},
		{"the imported token's hash in the reason", "X-Ledger-Reason", "rotate " + tail(r10InitSecret), tail(r10InitSecret)},
		{"the admin token's hash in the reason", "X-Ledger-Reason", "rotate " + tail(servicetest.AdminSecret), tail(servicetest.AdminSecret)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before, logged := s.LastSeq(), len(s.Logs())
			r := s.Do("POST", "/api/admin/api-tokens", servicetest.AdminSecret,
				map[string]any{"tokenName": "tail", "type": "client", "environment": "development"}, tt.header, tt.value)
			if r.Status != http.StatusCreated {
				t.Fatalf("status %d: %.300s", r.Status, r.Body)
			}
			if strings.Contains(s.Logs()[logged:], tt.canary) {
				t.Errorf("the log holds the live secret's hash sent as %s", tt.name)
			}
			for _, at := range eventsHolding(t, s, before, tt.canary) {
				t.Errorf("the stream's %s holds the live secret's hash sent as %s", at, tt.name)
			}
		})
	}
}
