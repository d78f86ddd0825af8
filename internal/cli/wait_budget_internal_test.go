package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A server that answers "later" (503 with Retry-After) to every request
// of a verify or export holds the command for the command's wait budget
// in all, not for a budget per request: here three seconds, spent two
// on the checkpoint and one on the first bundle, then the 503 is
// reported and no file written.
func TestExportWaitsOutRetryAfterWithinOneBudgetForTheWholeCommand(t *testing.T) {
	defer func(b time.Duration) { waitBudget = b }(waitBudget)
	waitBudget = 3 * time.Second

	var checkpoints, bundles atomic.Int32
	later := func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"name":"ServiceUnavailableError","message":"starting"}`))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/ledger/checkpoint":
			if checkpoints.Add(1) <= 2 {
				later(w)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"size":5}`))
		case "/api/ledger/bundle":
			bundles.Add(1)
			later(w)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	file := filepath.Join(t.TempDir(), "ledger.bundle.json")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := Run(ctx, []string{"export", "--server", srv.URL, "--bundle", file}, Env{
		Stdout: &stdout, Stderr: &stderr, HTTP: srv.Client(),
		Getenv: func(k string) string {
			if k == EnvToken {
				return "user:not-a-real-token"
			}
			return ""
		},
	})
	if code == 0 || !strings.Contains(stderr.String(), "starting") {
		t.Errorf("exit %d, stderr %q: want the server's 503 reported once the budget is spent", code, stderr.String())
	}
	if c, b := checkpoints.Load(), bundles.Load(); c != 3 || b != 2 {
		t.Errorf("%d checkpoint and %d bundle requests, want 3 and 2 (three waits of a second in a budget of three)", c, b)
	}
	if _, err := os.Stat(file); err == nil {
		t.Error("a bundle file was written")
	}
}
