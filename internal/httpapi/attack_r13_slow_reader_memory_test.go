package httpapi_test

import (
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The token list (GET /api/admin/api-tokens, any principal that may read
// client tokens, READ_CLIENT_API_TOKEN) is encoded whole before it is written (json.Encoder
// marshals the value into one buffer), and the list, its answer value and
// that buffer stay live while the write waits for a client that does not
// read: up to the write timeout (25 s), on every connection the address
// may hold (half of --max-connections: 512 by default). So each
// connection that pipelines a few lists and reads nothing costs the
// process a whole answer's memory (about 400 bytes a token: 40 MB at
// 100,000 tokens), where the kernel's send buffer it also fills is capped
// (4 MiB here). 32 such connections against 4,000 tokens (a 1 MB answer) must not hold
// more heap than 32 write buffers of a streamed answer would (64 KiB each,
// 2 MiB in all, plus 8 MiB of slack for the rest of the process).
func TestSlowReadersOfTheTokenListHoldNoWholeAnswerEach(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	createTokens(t, s, 4000, "client", "bulk")
	viewer := s.CreateUser("reader", s.CreateRole("Token readers", "root", "READ_CLIENT_API_TOKEN"))
	one := s.Must(http.StatusOK, "GET", "/api/admin/api-tokens", viewer.Secret, nil)
	size := len(one.Body)
	t.Logf("the reader's token list: %d bytes", size)

	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	const conns = 32
	perConn := 4<<20/size + 2 // more than the kernel's buffers hold
	req := "GET /api/admin/api-tokens HTTP/1.1\r\nHost: x\r\nAuthorization: " + viewer.Secret + "\r\n\r\n"
	for range conns {
		c := dialSmallWindow(t, s)
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte(strings.Repeat(req, perConn))); err != nil {
			t.Fatal(err)
		}
	}
	// Let the server answer what the buffers take; the rest waits.
	var during uint64
	for range 3 {
		time.Sleep(time.Second)
		during = max(during, heap())
	}
	grew := int64(during) - int64(before)
	t.Logf("heap %d MiB before, %d MiB while %d connections do not read their lists (+%d MiB)",
		before>>20, during>>20, conns, grew>>20)
	if limit := int64(conns*64<<10 + 8<<20); grew > limit {
		t.Fatalf("%d slow readers of a %d-byte token list hold %d MiB of heap (more than %d MiB)", conns, size, grew>>20, limit>>20)
	}
}
