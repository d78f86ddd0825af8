package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The README: "A filter value that holds a token's secret (or looks like
// one) is recorded as [secret]". redactSecret matches a held secret only
// as a whole word (words split at spaces , ; = & and quotes) and "looks
// like one" only for projects:environment.hash and 64-hex shapes. A
// personal or service-account token is user:{64 hex}, which has no dot:
// wrapped in any other character, "(user:…)", "user:….", "auth:user:…",
// it is neither held nor shaped, and a query parameter's name is cut to
// 64 bytes before the check, keeping "user:" and 59 of its 64 hex (all 56
// random ones; the last 8 are a checksum of the rest). Each case is a
// real read of the trail, refused (a Viewer's 403 is recorded with its
// filters) or allowed (an auditor's), and the whole random part of the
// canary PAT then sits in the stream and in the trail's pages.
func TestAuditReadRecordNeverHoldsAPersonalTokensSecret(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	canary := s.CreateUser("canary", "Viewer") // the secret that must never be recorded
	viewer := s.CreateUser("viewer", "Viewer")
	auditor := s.CreateUser("auditor", s.CreateRole("Auditors", "root", "READ_AUDIT_LOG"))
	if !strings.HasPrefix(canary.Secret, commands.UserPrefix) {
		t.Fatalf("a PAT's secret is not user:{hex}: %q", canary.Secret)
	}
	random := canary.Secret[len(commands.UserPrefix) : len(commands.UserPrefix)+56]

	for _, tt := range []struct {
		name, cred, query string
		want              int
	}{
		{"refused read, the secret as a parameter name", viewer.Secret, url.QueryEscape(canary.Secret), http.StatusForbidden},
		{"refused read, the secret in parentheses", viewer.Secret, "actor=" + url.QueryEscape("("+canary.Secret+")"), http.StatusForbidden},
		{"refused read, the secret after a colon", viewer.Secret, "actor=" + url.QueryEscape("Authorization:"+canary.Secret), http.StatusForbidden},
		{"allowed read, the secret ending a sentence", auditor.Secret, "actor=" + url.QueryEscape(canary.Secret+"."), http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := s.LastSeq()
			r := s.Do("GET", "/api/ledger/events?"+tt.query, tt.cred, nil)
			if r.Status != tt.want {
				t.Fatalf("status %d, want %d: %.300s", r.Status, tt.want, r.Body)
			}
			for _, e := range s.Events(before+1, s.LastSeq()) {
				b, err := json.Marshal(e)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(b), random) {
					t.Errorf("the stream's %s at seq %d holds the canary PAT's random part: %.400s", e.Type, e.Sequence, b)
				}
			}
		})
	}
	page := s.Must(http.StatusOK, "GET", "/api/ledger/events?type=audit.queried&limit=100", servicetest.AdminSecret, nil)
	if strings.Contains(string(page.Body), random) {
		t.Errorf("the trail's page of audit.queried records shows the canary PAT's random part")
	}
}
