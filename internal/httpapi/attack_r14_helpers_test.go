package httpapi_test

import (
	"bufio"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// liveHeap is the heap in use after a collection, and the goroutines.
func liveHeap() (uint64, int) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, runtime.NumGoroutine()
}

// askAndStall sends req on a new connection with a small receive window
// and reads only the answer's status line, which it returns: the rest of
// the answer waits for a reader that never comes (until the test ends).
func askAndStall(t *testing.T, s *servicetest.Service, req string) string {
	t.Helper()
	c := dialSmallWindow(t, s)
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReaderSize(c, 64).ReadString('\n')
	if err != nil {
		t.Fatalf("no status line: %v", err)
	}
	return strings.TrimSpace(line)
}
