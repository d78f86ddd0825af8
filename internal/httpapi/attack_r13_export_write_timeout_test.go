package httpapi_test

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// An export streams every event a query matches, with no limit, but the
// server's WriteTimeout (2 × ReadWait + 15 s) bounds the whole answer, not
// each write: an export that takes longer is cut, and the client sees a
// broken transfer. At the measured 16,000 events/s an export of more than
// ~400,000 events cannot finish even on a fast link; here an auditor that
// reads steadily at 64 KB/s (a SIEM over a slow link) an export of ~2.5 MB
// (it needs about a minute) is cut once the write timeout passes (15.2 s
// with ReadWait 100 ms): the server logs "audit export failed".
func TestASteadyReaderGetsTheWholeExport(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate, c.ReadWait = 0, 100*time.Millisecond })
	createTokens(t, s, 2500, "client", strings.Repeat("n", 200)) // ~2.5 MB: more than 25 s at 64 KB/s
	c := dialSmallWindow(t, s)
	req := "GET /api/ledger/events?format=ndjson HTTP/1.1\r\nHost: x\r\nAuthorization: " + servicetest.AdminSecret + "\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReaderSize(c, 16<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("export: %d", resp.StatusCode)
	}
	t.Logf("export of %s", resp.Header.Get("X-Ledger-Sequence-Range"))
	buf := make([]byte, 16<<10)
	read := 0
	start := time.Now()
	for time.Since(start) < 25*time.Second { // 64 KB/s, well past the write timeout
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := resp.Body.Read(buf)
		read += n
		if strings.Contains(s.Logs(), "audit export failed") {
			t.Fatalf("the server cut the export after %s (%d bytes read by a client reading 64 KB/s)", time.Since(start).Round(time.Second), read)
		}
		if err != nil {
			t.Logf("the export ended after %d bytes: %v", read, err)
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	_ = resp.Body.Close()
}
