package cli_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A server that asks to wait longer than a minute gets its answer reported
// at once; a shorter wait is waited out (at most 30 times).
func TestCLIDoesNotWaitOutAnHourLongRetryAfter(t *testing.T) {
	var asked atomic.Int32
	server := startLoopbackServer(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"name":"TooManyRequestsError","message":"slow down"}`))
	}))
	for _, args := range [][]string{{"audit"}, {"state", "--at", "3"}, {"token", "list"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			asked.Store(0)
			code, _, errOut := runCLI(t, server, servicetest.AdminSecret, "", args...)
			if code == 0 || strings.Contains(errOut, "retrying") || !strings.Contains(errOut, "slow down") {
				t.Errorf("exit %d, stderr %q: want the server's 429 reported without waiting", code, errOut)
			}
			if n := asked.Load(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}
