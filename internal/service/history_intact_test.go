package service_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// Honest events must not read as tampered: a User-Agent with invalid
// UTF-8, one cut at 256 bytes inside a character, and an X-Request-Id with
// invalid UTF-8 once made the token's history say intact:false.
func TestClientHeadersNeverBreakTheHistoryChain(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	_, id := s.CreateToken("backend", "development")
	for i, h := range [][]string{
		{"User-Agent", "agent \xff\xfe"},
		{"User-Agent", strings.Repeat("a", 255) + "é and more"},
		{"User-Agent", strings.Repeat("€", 100)},
		{"X-Request-Id", "req-\xff"},
	} {
		s.Must(http.StatusOK, "PUT", "/api/admin/api-tokens/"+id, servicetest.AdminSecret,
			// Another expiry each time: one a token already has appends nothing.
			map[string]any{"expiresAt": fmt.Sprintf("2031-01-0%dT00:00:00Z", i+1)}, h...)
	}
	r := s.Must(http.StatusOK, "GET", "/api/ledger/tokens/"+id+"/history", servicetest.AdminSecret, nil).JSON(t)
	chain := r["chain"].(map[string]any)
	if chain["intact"] != true || chain["events"] != float64(5) {
		t.Fatalf("history chain = %v, want intact over 5 events", chain)
	}
}
