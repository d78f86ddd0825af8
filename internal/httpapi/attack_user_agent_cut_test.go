package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// scrubSecrets "runs before the text is cut to its bound, so a cut cannot
// leave part of a secret behind". For the User-Agent it runs on the agent
// already cut to 1,024 bytes (auditText(ua, 1024)), and its replacements
// shorten the text before the final cut to 256. So an agent whose first
// 972 bytes are long hex runs (each shrinks to "[secret]") and whose PAT
// straddles byte 1,024 keeps 47 of the secret's 64 hex digits: no run of
// 48, nothing scrubbed, and after the shrink it fits the 256 bytes stored
// in the event's via. 47 of 64 digits leave 9 random ones (36 bits) to
// find offline against the verifier that readers of the feed see.
func TestUserAgentCutNeverKeepsPartOfASecret(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	pat := s.CreateUser("canary", "Viewer").Secret // user:{64 hex}
	hexOf := pat[strings.LastIndexByte(pat, ':')+1:]
	if len(hexOf) != 64 {
		t.Fatalf("PAT %q: want user:{64 hex}", pat[:8])
	}
	filler := strings.Repeat(strings.Repeat("0123456789abcdef", 4)+" ", 14) // 910 bytes: 14 runs of 64 hex
	filler += strings.Repeat("x", 1024-47-len("user:")-len(filler))         // the PAT's 48th digit at byte 1,024
	ua := filler + pat
	before := s.LastSeq()
	s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", servicetest.AdminSecret,
		map[string]any{"tokenName": "ua-cut", "type": "client", "environment": "development"}, "User-Agent", ua)
	for _, e := range s.Events(before+1, s.LastSeq()) {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), hexOf[:32]) {
			t.Errorf("the stream's %s at seq %d holds part of a live PAT's secret sent in User-Agent (via.userAgent %q)",
				e.Type, e.Sequence, e.Via.UserAgent)
		}
	}
}
