package httpapi_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// An audit export (GET /api/ledger/events as NDJSON, CSV or OCSF) takes no
// whole-ledger read slot and no per-principal slot: it is paid with one
// token of the caller's mutation budget (a burst of 60 by default) and
// holds, while its reader does not read, an ordered consumer on LEDGER,
// its pull buffer (up to 2 MiB of events), a 64 KiB write buffer and about
// ten goroutines. Paced writes keep it alive as long as the reader takes
// 64 KiB per write timeout (25 s): ~2.6 KB/s per export, for as long as
// the export lasts (days at a million events). One auditor (or a stolen
// READ_AUDIT_LOG PAT) holding 48 exports within one burst, and more at
// 2 a second on every connection slot of its addresses, makes the process
// hold memory in proportion to its count (~0.6 MiB each here, up to 2 MiB with larger events: 0.6–2 GiB on 1,024 slots), where an
// honest auditor needs one or two exports; the token list and past states
// are bounded by the two whole-ledger read slots. The heap held by 48
// stalled exports must stay within what two of them and 8 MiB of slack
// hold.
func TestOneAuditorsStalledExportsHoldBoundedMemory(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	createTokens(t, s, 4000, "client", "bulk")
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	const exports = 48 // within the default mutation burst (60)
	req := "GET /api/ledger/events HTTP/1.1\r\nHost: x\r\nAccept: application/x-ndjson\r\nAuthorization: " + servicetest.AdminSecret + "\r\n\r\n"
	for range exports {
		c := dialSmallWindow(t, s)
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
	}
	// The exports fill the kernel's buffers, then wait for their readers.
	var during uint64
	for range 4 {
		time.Sleep(time.Second)
		during = max(during, heap())
	}
	grew := int64(during) - int64(before)
	t.Logf("heap %d MiB before, %d MiB while %d exports wait for their readers (+%d MiB)", before>>20, during>>20, exports, grew>>20)
	if limit := int64(2*(2<<20+64<<10) + 8<<20); grew > limit {
		t.Fatalf("%d stalled exports of one auditor hold %d MiB of heap (more than %d MiB: two exports and slack)", exports, grew>>20, limit>>20)
	}
}
