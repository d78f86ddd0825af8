package httpapi_test

import (
	"fmt"
	"net/http"
	"runtime"
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
// hold no more: 32 connections that pipeline more answers than the
// kernel's buffers take and read none hold at most 32 write buffers and
// 8 MiB of slack.
func TestSlowReadersOfWholeLedgerAnswersHoldNoWholeAnswerEach(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	createTokens(t, s, 4000, "client", "bulk")
	last := s.LastSeq()
	for _, tt := range []struct{ name, path string }{
		{"ledger token list", "/api/ledger/tokens"},
		{"past state", fmt.Sprintf("/api/ledger/state?seq=%d", last)},
	} {
		path := tt.path
		t.Run(tt.name, func(t *testing.T) {
			one := s.Must(http.StatusOK, "GET", path, servicetest.AdminSecret, nil)
			size := len(one.Body)
			heap := func() uint64 {
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				return ms.HeapAlloc
			}
			before := heap()
			const conns = 32
			perConn := 4<<20/size + 2 // more than the kernel's buffers hold
			req := "GET " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: " + servicetest.AdminSecret + "\r\n\r\n"
			for range conns {
				c := dialSmallWindow(t, s)
				_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Write([]byte(strings.Repeat(req, perConn))); err != nil {
					t.Fatal(err)
				}
				// One at a time: two slots build answers (a third at once
				// is 503); a slot is free again once its answer is built.
				time.Sleep(100 * time.Millisecond)
			}
			var during uint64
			for range 3 {
				time.Sleep(time.Second)
				during = max(during, heap())
			}
			grew := int64(during) - int64(before)
			t.Logf("answer %d bytes; heap %d MiB before, %d MiB while %d connections do not read (+%d MiB)",
				size, before>>20, during>>20, conns, grew>>20)
			if limit := int64(conns*64<<10 + 8<<20); grew > limit {
				t.Fatalf("%d slow readers of %s (%d bytes) hold %d MiB of heap (more than %d MiB)", conns, path, size, grew>>20, limit>>20)
			}
		})
	}
}
