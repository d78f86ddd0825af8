package service

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/internal/jsstore"
)

// atk-r29: a ledger restarted from its snapshot serves while the
// whole-log check of the restored history runs; the audit routes answer
// 503 with Retry-After 1 meanwhile ("still checking"). When its store
// fails closed for good during that check (a source let into LEDGER:
// only an operator's repair and a restart end it), those 503s still
// asked the auditor's verify and export to wait (30 retries a request),
// though /ready already said LEDGER_REFUSES_WRITES without Retry-After:
// no 503 may carry Retry-After once the store failed closed for good.
func TestAttackR29LatchedStoreDuringTheWholeLogCheckAsksNoRetry(t *testing.T) {
	dir := t.TempDir()
	m0, _, _ := startChecked(t, dir, false, true)
	if st, out := call(t, m0, "POST", "/api/admin/api-tokens", map[string]any{"tokenName": "r29", "type": "backend", "environment": "development"}); st != http.StatusCreated {
		t.Fatalf("create: %d %v", st, out)
	}
	if err := m0.Close(); err != nil {
		t.Fatal(err)
	}
	m, logs, _ := startChecked(t, dir, true, true) // the check held until the end
	if !strings.Contains(logs.String(), "projections restored from their snapshot") {
		t.Fatalf("the start did not restore the snapshot:\n%s", logs.String())
	}
	get := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", m.URL()+path, nil)
		req.Header.Set("Authorization", testAdmin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	if st, ra := get("/api/ledger/checkpoint"); st != http.StatusServiceUnavailable || ra == "" {
		t.Fatalf("the checkpoint route during the whole-log check: %d Retry-After %q, want 503 with Retry-After", st, ra)
	}

	js, err := jetstream.New(m.nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "FORGE", Subjects: []string{"forge.>"}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, jsstore.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.Sources = []*jetstream.StreamSource{{Name: "FORGE"}}
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h := m.Store.Health(); h == nil || !strings.Contains(h.Error(), "sources"); h = m.Store.Health() {
		if time.Now().After(deadline) {
			t.Fatal(errors.New("the store did not fail closed on the source"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !m.check.pending() {
		t.Fatal("the whole-log check ended (it is held)")
	}
	for _, path := range []string{"/ready", "/api/ledger/checkpoint", "/api/ledger/checkpoint?min_size=1", "/api/ledger/bundle?from_seq=1&to_seq=1", "/api/ledger/events?limit=1"} {
		if st, ra := get(path); st != http.StatusServiceUnavailable || ra != "" {
			t.Errorf("GET %s on a store failed closed for good (during the whole-log check): %d Retry-After %q, want 503 without Retry-After", path, st, ra)
		}
	}
}
