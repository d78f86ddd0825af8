package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// initBackendSecret is a backend token imported at start in the shape
// INIT_BACKEND_API_TOKENS accepts (40 random letters and digits): no hex run.
const initBackendSecret = "default:development.Zq7kRw2mXp9LtVbN4cYh8JsGd3FfQa6UeTn5Wm"

// scrubSecrets runs on the raw X-Ledger-Reason, and auditText removes
// control and format characters only after it (reason.go). So a secret
// split by a tab or an invisible format character (U+200B, U+2060,
// U+FEFF) is two short words when it is scrubbed, and one live secret once
// the separator is removed: it is sealed into the stream and shown in the
// trail and the feed. And scrubSecrets trims only ()<>{}.:!? from a word,
// so a secret without a long hex run (an admin token of INIT_ADMIN_API_TOKENS,
// an imported INIT_BACKEND_API_TOKENS token: any shape) quoted in [..],
// `..` or after "token:" is not found and is stored as is, in the reason
// and in the User-Agent alike.
func TestScrubbedClientTextNeverStoresALiveSecret(t *testing.T) {
	s := servicetest.StartWith(t, "", map[string]string{"INIT_BACKEND_API_TOKENS": initBackendSecret},
		func(c *service.Config) { c.MutationRate = 0 })
	live, _ := s.CreateToken("backend", "development") // stays live: the canary
	pat := s.CreateUser("canary", "Viewer").Secret
	half := func(v string) (string, string) { return v[:len(v)/2], v[len(v)/2:] }
	lh, rh := half(live)
	ph, pr := half(pat)
	for _, tt := range []struct{ name, header, value, canary string }{
		{"an API token split by a tab in the reason", "X-Ledger-Reason", "leaked " + lh + "\t" + rh, live},
		{"an API token split by U+200B in the reason", "X-Ledger-Reason", "leaked " + lh + "\u200b" + rh, live},
		{"a PAT split by U+2060 in the reason", "X-Ledger-Reason", "leaked " + ph + "\u2060" + pr, pat},
		{"an admin token in brackets in the reason", "X-Ledger-Reason", "leaked [" + servicetest.AdminSecret + "]", servicetest.AdminSecret},
		{"an admin token in backquotes in the reason", "X-Ledger-Reason", "leaked `" + servicetest.AdminSecret + "`", servicetest.AdminSecret},
		{"an imported token after token: in the reason", "X-Ledger-Reason", "rotate token:" + initBackendSecret, initBackendSecret},
		{"an imported token after a slash in the reason", "X-Ledger-Reason", "see ci/" + initBackendSecret, initBackendSecret},
		{"an admin token in brackets in the User-Agent", "User-Agent", "deploybot [" + servicetest.AdminSecret + "]", servicetest.AdminSecret},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := s.LastSeq()
			r := s.Do("POST", "/api/admin/api-tokens", servicetest.AdminSecret,
				map[string]any{"tokenName": "scrub", "type": "client", "environment": "development"}, tt.header, tt.value)
			if r.Status != http.StatusCreated && r.Status != http.StatusBadRequest {
				t.Fatalf("status %d: %.300s", r.Status, r.Body)
			}
			for _, e := range s.Events(before+1, s.LastSeq()) {
				b, err := json.Marshal(e)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(b), tt.canary) {
					t.Errorf("the stream's %s at seq %d holds the live secret sent in %s (answer %d)", e.Type, e.Sequence, tt.header, r.Status)
				}
			}
		})
	}
}

// An X-Request-Id is refused as the request's id only when it is the
// secret as a whole or holds a long hex run. An imported token's secret
// (INIT_BACKEND_API_TOKENS, letters, digits, '.', ':' and '-': all "safe")
// behind any prefix is taken as the id, written to the access log and to
// the via of every event the request appends.
func TestRequestIDWithAPrefixedImportedSecretNeverReachesLogOrStream(t *testing.T) {
	s := servicetest.StartWith(t, "", map[string]string{"INIT_BACKEND_API_TOKENS": initBackendSecret},
		func(c *service.Config) { c.MutationRate = 0 })
	if _, ok := s.Tokens.Lookup(initBackendSecret); !ok {
		t.Fatal("the imported token is not live")
	}
	rid := "req-" + initBackendSecret
	before := s.LastSeq()
	s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", servicetest.AdminSecret,
		map[string]any{"tokenName": "rid", "type": "client", "environment": "development"}, "X-Request-Id", rid)
	s.Do("GET", "/api/admin/api-tokens", "not-a-token", nil, "X-Request-Id", rid)
	if strings.Contains(s.Logs(), initBackendSecret) {
		t.Errorf("the log holds the live secret sent inside X-Request-Id")
	}
	for _, e := range s.Events(before+1, s.LastSeq()) {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), initBackendSecret) {
			t.Errorf("the stream's %s at seq %d holds the live secret sent inside X-Request-Id", e.Type, e.Sequence)
		}
	}
}
