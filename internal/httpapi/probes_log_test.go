package httpapi_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// /health is liveness (the process is up), /ready is readiness (caught up,
// audit-grade, accepting writes): when the stream stops being audit-grade
// the ledger refuses writes, /ready says why with 503, and /health still
// answers 200 so that Kubernetes does not restart a process a restart
// would not fix.
func TestHealthStaysLiveWhileReadyReportsTheLedgerRefusingWrites(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	h := s.Must(http.StatusOK, "GET", "/health", "", nil).JSON(t)
	r := s.Must(http.StatusOK, "GET", "/ready", "", nil).JSON(t)
	if h["health"] != "GOOD" || r["health"] != "GOOD" {
		t.Fatalf("/health %v, /ready %v, want both GOOD", h, r)
	}

	// Someone with access to the stream gives it an age limit.
	s.MakeStreamUnsafe()
	ready := s.Do("GET", "/ready", "", nil)
	if ready.Status != http.StatusServiceUnavailable {
		t.Fatalf("/ready = %d while the ledger refuses writes, want 503", ready.Status)
	}
	body := ready.JSON(t)
	if body["health"] != "LEDGER_REFUSES_WRITES" || body["reason"] == "" || body["reason"] == nil {
		t.Errorf("/ready body %v, want LEDGER_REFUSES_WRITES with a reason", body)
	}
	if ready.Header.Get("Retry-After") == "" {
		t.Error("/ready 503 without Retry-After")
	}
	s.Must(http.StatusOK, "GET", "/health", "", nil)
}

// Probes and scrapes come every few seconds: they are logged at DEBUG, so
// an INFO log shows requests people and services made; a request no route
// matches is logged as "unmatched", not as the catch-all pattern "/".
func TestAccessLogPutsProbesAtDebugAndNamesUnmatchedRoutes(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		t.Run(level.String(), func(t *testing.T) {
			s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.LogLevel = level })
			s.Must(http.StatusOK, "GET", "/health", "", nil)
			s.Must(http.StatusOK, "GET", "/ready", "", nil)
			s.Must(http.StatusOK, "GET", "/metrics", "", nil)
			s.Must(http.StatusNotFound, "GET", "/no/such/route", "", nil)
			s.Must(http.StatusOK, "GET", "/api/admin/api-tokens", servicetest.AdminSecret, nil)

			got := map[string][]string{} // route → levels of its access-log lines
			for _, line := range strings.Split(s.Logs(), "\n") {
				var e struct{ Msg, Level, Route string }
				if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "request" {
					got[e.Route] = append(got[e.Route], e.Level)
				}
			}
			probes := []string{"GET /health", "GET /ready", "GET /metrics"}
			for _, p := range probes {
				want := 0
				if level == slog.LevelDebug {
					want = 1
				}
				if len(got[p]) != want {
					t.Errorf("%s logged %d times at level %v, want %d", p, len(got[p]), level, want)
				}
				for _, l := range got[p] {
					if l != "DEBUG" {
						t.Errorf("%s logged at %s, want DEBUG", p, l)
					}
				}
			}
			if l := got["unmatched"]; len(l) != 1 || l[0] != "INFO" {
				t.Errorf("the unmatched request was logged %v, want once at INFO as unmatched", l)
			}
			if _, ok := got["/"]; ok {
				t.Error("a request was logged with the catch-all route /")
			}
			if l := got["GET /api/admin/api-tokens"]; len(l) != 1 || l[0] != "INFO" {
				t.Errorf("an API request was logged %v, want once at INFO", l)
			}
		})
	}
}
