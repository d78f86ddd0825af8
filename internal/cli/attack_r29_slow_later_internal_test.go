package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// atk-r29: a hostile (or broken) server that takes its time over each
// "later": every answer is a 503 with Retry-After 1, sent 1.5 s after the
// request. The command's wait budget (waitBudget, 5 minutes; here 2 s)
// bounds what a verify or export spends waiting out such answers "in
// all, however many requests it makes"; only the Retry-After was charged
// to it, so each retried request added its own time on top: 30 retries
// of a request the server holds 29 s (under the 30 s idle bound) held
// one request for a quarter of an hour, and a command for hours, while
// the budget counted 30 s. A retried request's time past a prompt answer
// (promptAnswer) now counts as waiting: once the budget is spent, the
// next "later" is reported.
func TestAttackR29SlowLaterAnswersCountAgainstTheWaitBudget(t *testing.T) {
	defer func(b time.Duration) { waitBudget = b }(waitBudget)
	waitBudget = 2 * time.Second
	const hold = 1500 * time.Millisecond

	for _, args := range [][]string{{"verify"}, {"export", "--bundle", ""}} {
		t.Run(args[0], func(t *testing.T) {
			var requests atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				select {
				case <-time.After(hold):
				case <-r.Context().Done():
					return
				}
				w.Header().Set("Retry-After", "1")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"name":"ServiceUnavailableError","message":"later"}`))
			}))
			defer srv.Close()
			dir := t.TempDir()
			argv := append([]string{}, args...)
			if args[0] == "export" {
				argv[2] = filepath.Join(dir, "ledger.bundle.json")
			}
			argv = append(argv, "--server", srv.URL)
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			start := time.Now()
			code := Run(ctx, argv, Env{Stdout: &stdout, Stderr: &stderr, HTTP: srv.Client(),
				Getenv: func(k string) string {
					if k == EnvToken {
						return "user:not-a-real-token"
					}
					return ""
				}})
			took := time.Since(start)
			t.Logf("%s: exit %d after %s, %d requests\nstderr %q", args[0], code, took.Round(10*time.Millisecond), requests.Load(), stderr.String())
			if code != ExitError {
				t.Errorf("exit %d, want %d (the server's 503 reported)", code, ExitError)
			}
			// The first request, then at most the budget of waiting and
			// retried requests, and the one retried request that spent it.
			if limit := hold + waitBudget + hold + 500*time.Millisecond; took > limit {
				t.Errorf("held %s by a server answering every request \"later\" after %s: want at most %s (the first answer, the wait budget of %s, one retried request past it)",
					took.Round(10*time.Millisecond), hold, limit, waitBudget)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("export left %d files behind", len(ents))
			}
		})
	}
}
