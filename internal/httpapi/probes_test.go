package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/httpapi"
	"github.com/tokenledger/tokenledger/projections"
)

// probeServer is the API over a real store whose projections have not
// caught up yet (the Runner is not running: the state of a long replay).
func probeServer(t *testing.T) (*httptest.Server, *httpapi.Server, *projections.Runner) {
	t.Helper()
	api, runner, _ := newAPI(t)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return srv, api, runner
}

func get(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("GET %s: not JSON: %s", url, b)
	}
	return resp.StatusCode, v
}

// While the projections replay, the process is alive (/health 200: a
// liveness probe must not kill a long replay) but not ready (/ready 503
// STARTING with the reason); once they caught up and start-up work is
// done, both answer 200.
func TestHealthIsLiveDuringReplayWhileReadyIsNot(t *testing.T) {
	srv, api, runner := probeServer(t)
	if code, body := get(t, srv.URL+"/health"); code != http.StatusOK || body["health"] != "GOOD" {
		t.Fatalf("/health during replay = %d %v, want 200 GOOD", code, body)
	}
	code, body := get(t, srv.URL+"/ready")
	if code != http.StatusServiceUnavailable || body["health"] != "STARTING" || body["reason"] == nil {
		t.Fatalf("/ready during replay = %d %v, want 503 STARTING with a reason", code, body)
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
	// Caught up, but start-up work (catalogue, INIT_* tokens) not done.
	if code, body := get(t, srv.URL+"/ready"); code != http.StatusServiceUnavailable || body["health"] != "STARTING" {
		t.Fatalf("/ready before start-up work is done = %d %v, want 503 STARTING", code, body)
	}
	api.MarkStarted()
	if code, body := get(t, srv.URL+"/ready"); code != http.StatusOK || body["health"] != "GOOD" {
		t.Fatalf("/ready once started = %d %v, want 200 GOOD", code, body)
	}
	if code, _ := get(t, srv.URL+"/health"); code != http.StatusOK {
		t.Fatalf("/health once started = %d", code)
	}

	// Projections that stopped are not ready; the process is still live.
	cancel()
	<-done
	done <- nil // for the cleanup
	if code, body := get(t, srv.URL+"/ready"); code != http.StatusServiceUnavailable || body["health"] != "PROJECTIONS_STOPPED" {
		t.Fatalf("/ready after the projections stopped = %d %v, want 503 PROJECTIONS_STOPPED", code, body)
	}
	if code, _ := get(t, srv.URL+"/health"); code != http.StatusOK {
		t.Fatalf("/health after the projections stopped = %d, want 200", code)
	}
}
