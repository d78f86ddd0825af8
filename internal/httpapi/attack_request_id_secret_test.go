package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// Secrets never enter the stream or the logs. The client's X-Request-Id is
// taken as the request's id when it is "safe": at most 128 bytes of
// letters, digits and . _ : -. A PAT's secret (user:{64 hex}) and a
// one-project API token's secret (project:environment.{64 hex}) are both
// "safe", so a client that sends a secret as its request id (a
// misconfigured proxy or SDK, a header copied from the wrong variable) has
// it written to every access-log line of its requests, to the via of
// every event its changes append, and shown in the trail's pages and
// exports.
func TestRequestIDHeaderNeverCarriesASecretIntoLogsOrStream(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "p1", "name": "P1"})
	apiSecret, _ := s.CreateToken("backend", "development", "p1")
	patSecret := s.CreateUser("canary", "Viewer").Secret
	for _, tt := range []struct{ name, secret string }{
		{"a PAT's secret", patSecret},
		{"a one-project API token's secret", apiSecret},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := s.LastSeq()
			// A change (its event's via) and a refused request (its log line).
			s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", servicetest.AdminSecret,
				map[string]any{"tokenName": "rid", "type": "client", "environment": "development"}, "X-Request-Id", tt.secret)
			s.Do("GET", "/api/admin/api-tokens", "not-a-token", nil, "X-Request-Id", tt.secret)
			if strings.Contains(s.Logs(), tt.secret) {
				t.Errorf("the log holds the secret sent as X-Request-Id")
			}
			for _, e := range s.Events(before+1, s.LastSeq()) {
				b, err := json.Marshal(e)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(b), tt.secret) {
					t.Errorf("the stream's %s at seq %d holds the secret sent as X-Request-Id", e.Type, e.Sequence)
				}
			}
		})
	}
}

// The sibling: the User-Agent is stored in the via of every event a
// request appends (cut to 256 bytes, control characters removed), with no
// secret check at all, where the trail's filters are checked word by
// word. A deploy script whose agent string carries its token ("deploybot
// token=<secret>") writes that live secret into the stream and every
// page and export of the trail.
func TestUserAgentNeverCarriesASecretIntoTheStream(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	live, _ := s.CreateToken("backend", "development") // stays live: the canary
	before := s.LastSeq()
	s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", servicetest.AdminSecret,
		map[string]any{"tokenName": "ua", "type": "client", "environment": "development"}, "User-Agent", "deploybot token="+live)
	for _, e := range s.Events(before+1, s.LastSeq()) {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), live) {
			t.Errorf("the stream's %s at seq %d holds the live secret sent in User-Agent", e.Type, e.Sequence)
		}
	}
}
