package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// hexRuns takes every character that is not printable ASCII for part of a
// run of hex digits, so that an invisible character cannot split a
// secret. But visible non-ASCII separators are taken for part of the run
// too: a no-break space (U+00A0, U+202F: what word processors and French
// number formatting put between groups), the ideographic space and
// comma, full-width punctuation. Honest text that separates short numbers
// or hex words with them, and would pass with ASCII spaces or commas, is
// a "secret": a Chinese project description listing phone numbers is
// refused (400), and a reason listing short commit hashes separated by
// no-break spaces is stored as "[secret]". No secret is split by a
// visible space past a reader: the same secret split by an ASCII space
// passes the checks already.
func TestVisibleNonASCIISeparatorsDoNotJoinHexIntoASecret(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	admin := servicetest.AdminSecret
	for _, tt := range []struct {
		name, text string
	}{
		{"phone numbers between full-width commas (CJK)",
			"项目负责人：张三，电话：13800138000，13900139000，13700137000，备用：13600136000，13500135000"},
		{"short commit hashes between no-break spaces",
			"rolled back a1b2c3d4\u00a0e5f6a7b8\u00a0c9d0e1f2\u00a0a3b4c5d6\u00a0e7f8a9b0\u00a0c1d2e3f4"},
		{"amounts grouped by narrow no-break spaces",
			"budget 1\u202f234\u202f567\u202f890\u202f123\u202f456\u202f789\u202f012\u202f345\u202f678\u202f901\u202f234\u202f567\u202f890\u202f123\u202f456\u202f789"},
		{"figures between ideographic spaces",
			"工单\u30001234567890\u30002345678901\u30003456789012\u30004567890123\u30005678901234"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if ascii := strings.NewReplacer("\u00a0", " ", "\u202f", " ", "\u3000", " ", "，", ", ", "：", ": ").Replace(tt.text); ascii == tt.text {
				t.Fatal("the case has no visible non-ASCII separator")
			}
			t.Run("project description", func(t *testing.T) {
				id := "r15-" + strings.ReplaceAll(strings.ReplaceAll(t.Name()[len("TestVisibleNonASCIISeparatorsDoNotJoinHexIntoASecret/"):], " ", "-"), "/", "-")
				id = id[:min(len(id), 40)]
				r := s.Do("POST", "/api/admin/projects", admin, map[string]any{"id": id, "name": "R15", "description": tt.text})
				if r.Status == http.StatusBadRequest {
					t.Errorf("an honest description %q is refused: %.300s", tt.text, r.Body)
				}
			})
			t.Run("reason", func(t *testing.T) {
				before := s.LastSeq()
				r := s.Do("POST", "/api/admin/api-tokens", admin,
					map[string]any{"tokenName": "r15-reason", "type": "client", "environment": "development"}, "X-Ledger-Reason", tt.text)
				if r.Status != http.StatusCreated {
					t.Fatalf("status %d: %.300s", r.Status, r.Body)
				}
				for _, e := range s.Events(before+1, s.LastSeq()) {
					b, err := json.Marshal(e)
					if err != nil {
						t.Fatal(err)
					}
					if strings.Contains(string(b), "[secret]") {
						t.Errorf("the honest reason %q is stored scrubbed in %s: %.400s", tt.text, e.Type, b)
					}
				}
			})
		})
	}
}
