package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The token list of the ledger (GET /api/ledger/tokens, Admin) and a past
// state (GET /api/ledger/state?seq=…, READ_AUDIT_LOG) are encoded whole
// under a whole-ledger read slot (tokenListJSON), the slot is released,
// and the encoded answer is then written: the slot is free for the next
// request at once, but the whole answer (about 400 bytes a token: 40 MB at
// 100,000 tokens) stays live while the write waits for a client that does
// not read, up to the write timeout (25 s), on every connection the
// address may hold (512 by default). The two slots bound how many answers
// are built at once, not how many are held. atk-r13's streamed
// /api/admin/api-tokens holds a 64 KiB buffer per slow reader; these must
// hold no more than that, and one principal no more than two whole
// answers at once: 16 connections of one principal that each ask for an
// answer larger than the kernel's buffers take (~5 MB) and read only its
// status line hold at most two answers (in buffers up to twice their
// size), 16 write buffers and 8 MiB of slack.
func TestOnePrincipalsSlowReadersHoldAtMostTwoWholeLedgerAnswers(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	createTokens(t, s, 8000, "client", "bulk-"+strings.Repeat("z", 200))
	last := s.LastSeq()
	for _, tt := range []struct{ name, path string }{
		{"ledger token list", "/api/ledger/tokens"},
		{"past state", fmt.Sprintf("/api/ledger/state?seq=%d", last)},
		{"bundle", "/api/ledger/bundle?from_seq=1&to_seq=4000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// The slow readers of the case before are closed; the server
			// notices at its next write.
			var size int
			servicetest.WaitFor(t, 10*time.Second, func() error {
				r := s.Do("GET", tt.path, servicetest.AdminSecret, nil)
				if r.Status != http.StatusOK {
					return fmt.Errorf("status %d", r.Status)
				}
				size = len(r.Body)
				return nil
			})
			before, _ := liveHeap()
			const conns = 16
			req := "GET " + tt.path + " HTTP/1.1\r\nHost: x\r\nAuthorization: " + servicetest.AdminSecret + "\r\n\r\n"
			var during uint64
			statuses := map[string]int{}
			for range conns {
				// The status line says the answer was built and its slot
				// released (two slots: the next request is not refused).
				statuses[askAndStall(t, s, req)]++
				h, _ := liveHeap()
				during = max(during, h)
			}
			grew := int64(during) - int64(before)
			t.Logf("answer %d bytes; answers %v; heap %d MiB before, %d MiB while %d connections do not read (+%d MiB)",
				size, statuses, before>>20, during>>20, conns, grew>>20)
			// An encoded answer's buffer may be up to twice its size.
			if limit := int64(2*2*size + conns*64<<10 + 8<<20); grew > limit {
				t.Fatalf("%d slow readers of the %s (%d bytes) hold %d MiB of heap (more than %d MiB: two answers, write buffers, slack)", conns, tt.name, size, grew>>20, limit>>20)
			}
		})
	}
}
