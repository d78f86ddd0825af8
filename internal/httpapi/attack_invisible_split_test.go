package httpapi_test

import (
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// 356842d runs auditText (which drops control and format characters)
// before the scrub, so a tab or U+200B no longer splits a secret past it.
// But other invisible characters are neither control nor format: the
// combining grapheme joiner U+034F and the variation selectors U+FE00..FE0F
// (Mn), the Hangul filler U+3164 (Lo). And names keep the zero-width
// joiner and non-joiner (checkText allows U+200C/U+200D for scripts and
// emoji), while noSecretIn looks at the raw name. A generated secret split
// by one of them is two hex runs of 32 digits: not a secret to the scrub or
// the name check, and the same secret to anyone who reads the trail or the
// feed and drops the invisible character.
func TestAnInvisibleCharacterCannotSplitASecretPastTheScrub(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	live, _ := s.CreateToken("backend", "development") // stays live: the canary
	hex := live[strings.LastIndexByte(live, '.')+1:]
	split := func(sep string) string { return live[:len(live)-32] + sep + live[len(live)-32:] }
	tokenBody := map[string]any{"tokenName": "split", "type": "client", "environment": "development"}
	for _, tt := range []struct {
		name, path string
		body       map[string]any
		headers    []string
	}{
		{"U+034F in the reason", "/api/admin/api-tokens", tokenBody, []string{"X-Ledger-Reason", "leaked " + split("\u034f")}},
		{"U+FE0F in the reason", "/api/admin/api-tokens", tokenBody, []string{"X-Ledger-Reason", "leaked " + split("\ufe0f")}},
		{"U+3164 in the User-Agent", "/api/admin/api-tokens", tokenBody, []string{"User-Agent", "bot " + split("\u3164")}},
		{"U+200D in a token name", "/api/admin/api-tokens",
			map[string]any{"tokenName": "ci " + split("\u200d"), "type": "client", "environment": "development"}, nil},
		{"U+200C in a project name", "/api/admin/projects",
			map[string]any{"id": "split-p1", "name": "ci " + split("\u200c")}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := s.LastSeq()
			r := s.Do("POST", tt.path, servicetest.AdminSecret, tt.body, tt.headers...)
			if r.Status >= 500 {
				t.Fatalf("status %d: %.300s", r.Status, r.Body)
			}
			for _, at := range eventsHolding(t, s, before, hex, "\u034f", "\ufe0f", "\u3164", "\u200d", "\u200c") {
				t.Errorf("the stream's %s holds the live secret, split by %s (answer %d)", at, tt.name, r.Status)
			}
		})
	}
}
