package httpapi_test

import (
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// r10InitSecret is a backend token imported at start in the shape
// INIT_BACKEND_API_TOKENS accepts (letters and digits): no hex run, so
// only the token-set lookup can find it.
const r10InitSecret = "default:development.Rw2mXp9LtVbN4cYh8JsGd3FfQa6UeTn5WmZq7k"

// Three ways a live secret still passes the scrub (clientText) and the
// refusal (noSecretIn) into the stream, the trail and the feed:
//
//   - noSecretIn returns nil for any text longer than MaxNameLen (255)
//     "left to the command's own length check", but a project's or a
//     role's description may hold MaxDescriptionLen (1,000) characters: a
//     description of 256..1,000 characters holding a live secret of any
//     shape (even a generated one, 64 hex digits) is stored unchecked.
//   - secretWords stops after maxLookups (64) lookups, and one word of 20
//     letters followed by 64 ":x" pairs (148 bytes) spends them all (one
//     lookup per colon), so a non-hex secret (admin, imported) after it is
//     never looked up, in a reason or in a name.
//   - secretSeparator does not split at '@', '#', '+', '~', '$', '%', '^',
//     so "ci@<secret>" or "<secret>#1" is one word that is not the secret,
//     and its colon parts are not the secret either.
//   - A hex run labelled "sha256:" is kept, so the 64 hex digits of a
//     generated secret (its only secret part; the project:environment
//     prefix is public) written as "sha256:<hex>" are stored as is.
func TestNoLiveSecretPassesTheScrubOrTheNameCheck(t *testing.T) {
	s := servicetest.StartWith(t, "", map[string]string{"INIT_BACKEND_API_TOKENS": r10InitSecret},
		func(c *service.Config) { c.MutationRate = 0 })
	if _, ok := s.Tokens.Lookup(r10InitSecret); !ok {
		t.Fatal("the imported token is not live")
	}
	live, _ := s.CreateToken("backend", "development") // stays live: the canary
	liveHex := live[strings.LastIndexByte(live, '.')+1:]
	burn := "aaaaaaaaaaaaaaaaaaaa" + strings.Repeat(":x", 64) // spends maxLookups
	long := " " + strings.Repeat("padding ", 40)              // > MaxNameLen, < MaxDescriptionLen
	type tc struct {
		name, path string
		body       map[string]any
		headers    []string
		canary     string
	}
	tokenBody := map[string]any{"tokenName": "scrub", "type": "client", "environment": "development"}
	for _, tt := range []tc{
		{"a generated secret in a 330-character project description", "/api/admin/projects",
			map[string]any{"id": "r10-p1", "name": "P1", "description": "ci uses " + live + long}, nil, live},
		{"a generated secret in a 330-character role description", "/api/admin/roles",
			map[string]any{"name": "r10-role", "type": "root-custom", "description": "ci uses " + live + long, "permissions": []any{}}, nil, live},
		{"an imported secret after 64 spent lookups in the reason", "/api/admin/api-tokens", tokenBody,
			[]string{"X-Ledger-Reason", burn + " " + r10InitSecret}, r10InitSecret},
		{"the admin secret after 64 spent lookups in the User-Agent", "/api/admin/api-tokens", tokenBody,
			[]string{"User-Agent", burn + " " + servicetest.AdminSecret}, servicetest.AdminSecret},
		{"an imported secret after 64 spent lookups in a token name", "/api/admin/api-tokens",
			map[string]any{"tokenName": burn + " " + r10InitSecret, "type": "client", "environment": "development"}, nil, r10InitSecret},
		{"an imported secret after ci@ in the reason", "/api/admin/api-tokens", tokenBody,
			[]string{"X-Ledger-Reason", "rotate ci@" + r10InitSecret}, r10InitSecret},
		{"the admin secret followed by #1 in the reason", "/api/admin/api-tokens", tokenBody,
			[]string{"X-Ledger-Reason", "rotate " + servicetest.AdminSecret + "#1"}, servicetest.AdminSecret},
		{"an imported secret after + in a project name", "/api/admin/projects",
			map[string]any{"id": "r10-p2", "name": "ci+" + r10InitSecret}, nil, r10InitSecret},
		{"a generated secret's hex labelled sha256: in the reason", "/api/admin/api-tokens", tokenBody,
			[]string{"X-Ledger-Reason", "rotate sha256:" + liveHex}, liveHex},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := s.LastSeq()
			r := s.Do("POST", tt.path, servicetest.AdminSecret, tt.body, tt.headers...)
			if r.Status >= 500 {
				t.Fatalf("status %d: %.300s", r.Status, r.Body)
			}
			for _, at := range eventsHolding(t, s, before, tt.canary) {
				t.Errorf("the stream's %s holds the live secret sent as %s (answer %d)", at, tt.name, r.Status)
			}
		})
	}
}
