package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// atk-r29: while the ledger starts (the projections replaying, then its
// start-up work), an auditor's GET /api/ledger/checkpoint?min_size=N is
// answered at once, 503 with Retry-After (waiting ends it: verify and
// export wait it out), as is /ready; no wait for N is begun before the
// ledger serves. Once the projections stopped, neither carries
// Retry-After (a restart ends it, not a wait).
func TestAttackR29CheckpointMinSizeWhileStarting(t *testing.T) {
	srv, api, runner := probeServer(t)
	ask := func(phase, path string, wantRetry bool) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "*:*.not-checked-while-starting-0123456789abcdef")
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		took := time.Since(start)
		if resp.StatusCode != http.StatusServiceUnavailable || (resp.Header.Get("Retry-After") != "") != wantRetry || took > time.Second {
			t.Errorf("%s: GET %s: %d Retry-After %q after %s; want 503, Retry-After %v, at once", phase, path, resp.StatusCode, resp.Header.Get("Retry-After"), took, wantRetry)
		}
	}
	for _, p := range []string{"/ready", "/api/ledger/checkpoint?min_size=5", "/api/ledger/checkpoint?min_size=18446744073709551615"} {
		ask("replaying", p, true)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := runner.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/ready", "/api/ledger/checkpoint?min_size=5"} {
		ask("start-up work", p, true)
	}
	cancel()
	<-done
	done <- nil
	for _, p := range []string{"/ready", "/api/ledger/checkpoint?min_size=5"} {
		ask("projections stopped", p, false)
	}
	_ = api
}
