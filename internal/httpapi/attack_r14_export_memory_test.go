package httpapi_test

import (
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// An audit export (GET /api/ledger/events as NDJSON, CSV or OCSF) took no
// whole-ledger read slot and no per-principal slot: it is paid with one
// token of the caller's mutation budget (a burst of 60 by default) and
// holds, while its reader does not read, an ordered consumer on LEDGER,
// its pull buffer (up to 2 MiB of events), a 64 KiB write buffer and about
// ten goroutines. Paced writes keep it alive as long as the reader takes
// 64 KiB per write timeout (25 s): ~2.6 KB/s per export, for as long as
// the export lasts (days at a million events). One auditor (or a stolen
// READ_AUDIT_LOG PAT) holding 48 exports within one burst, and more at
// 2 a second on every connection slot of its addresses, made the process
// hold goroutines, consumers and memory in proportion to their count
// (~2 MiB each here: ~2 GiB on 1,024 slots), where an honest auditor
// needs one or two exports. The exports of one principal that stream at
// once, and what they hold, are bounded:
// of 48 asked for on 48 connections, the goroutines beyond one per
// connection are at most what two exports hold (16 each) and 16 more, and
// the heap at most two pull buffers and write buffers and 16 MiB more.
func TestOneAuditorsStalledExportsHoldBoundedMemory(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	createTokens(t, s, 4000, "client", "bulk")
	heap0, g0 := liveHeap()
	const exports = 48 // within the default mutation burst (60)
	req := "GET /api/ledger/events HTTP/1.1\r\nHost: x\r\nAccept: application/x-ndjson\r\nAuthorization: " + servicetest.AdminSecret + "\r\n\r\n"
	statuses := map[string]int{}
	for range exports {
		statuses[askAndStall(t, s, req)]++
	}
	// The exports fill the kernel's buffers, then wait for their readers.
	time.Sleep(time.Second)
	heap1, g1 := liveHeap()
	held := g1 - g0 - exports // one goroutine serves each connection
	t.Logf("answers %v; heap +%d MiB, %d goroutines beyond one per connection while %d exports wait for their readers",
		statuses, (int64(heap1)-int64(heap0))>>20, held, exports)
	if limit := 2*16 + 16; held > limit {
		t.Errorf("%d exports asked for by one auditor hold %d goroutines beyond their connections' (more than %d: two exports and slack)", exports, held, limit)
	}
	if grew, limit := int64(heap1)-int64(heap0), int64(2*(2<<20+64<<10)+16<<20); grew > limit {
		t.Errorf("%d exports asked for by one auditor hold %d MiB of heap (more than %d MiB: two exports and slack)", exports, grew>>20, limit>>20)
	}
}
