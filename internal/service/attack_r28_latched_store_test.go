package service_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// Someone with access to the stream lets foreign messages into it (a
// source added to LEDGER): the store fails closed for good ("latched":
// fixing the configuration does not remove what may have entered; only
// an operator and a restart end it). Every write and every audit-trail
// read (recorded before it is served) is refused with 503: a 503 that
// waiting does not end, so without Retry-After (atk-r28's rule), and the
// auditor's verify --server must report it at once rather than wait out
// 30 retries of 5 s.
func TestAttackR28ALatchedStoreAsksNoRetry(t *testing.T) {
	srv := natstest.RunServer(t)
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
		c.NATSURL, c.AllowUnsafeDurability = srv.ClientURL(), true
		c.CheckpointEvery = 2
	})
	s.CreateToken("backend", "development")
	servicetest.WaitFor(t, 10*time.Second, func() error {
		if r := s.Do("GET", "/api/ledger/checkpoint", servicetest.AdminSecret, nil); r.Status != http.StatusOK {
			return errors.New("no checkpoint yet")
		}
		return nil
	})

	js, err := jetstream.New(natstest.Connect(t, srv))
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
	servicetest.WaitFor(t, 10*time.Second, func() error {
		if h := s.Store.Health(); h == nil || !strings.Contains(h.Error(), "sources") {
			return errors.New("the store did not fail closed on the source")
		}
		return nil
	})
	if s.Runner.Err() != nil {
		t.Fatalf("the projections stopped: %v (this test is about a ledger that still serves reads)", s.Runner.Err())
	}

	for _, c := range []struct{ method, path string }{
		{"POST", "/api/admin/api-tokens"},
		{"GET", "/api/ledger/bundle?from_seq=1&to_seq=1"},
		{"GET", "/api/ledger/events?limit=1"},
	} {
		var body any
		if c.method == "POST" {
			body = map[string]any{"tokenName": "r28", "type": "backend", "environment": "development", "projects": []string{"default"}}
		}
		r := s.Do(c.method, c.path, servicetest.AdminSecret, body)
		if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") != "" {
			t.Errorf("%s %s on a latched store: %d Retry-After %q, want 503 without Retry-After (waiting does not end it)\n%.300s",
				c.method, c.path, r.Status, r.Header.Get("Retry-After"), r.Body)
		}
		if c.method == "POST" && !strings.Contains(string(r.Body), "until an operator repairs its stream") {
			t.Errorf("a write on a latched store: %.300s; want it to say that only an operator's repair and a restart end it", r.Body)
		}
	}

	if r := s.Do("GET", "/ready", "", nil); r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") != "" ||
		!strings.Contains(string(r.Body), "LEDGER_REFUSES_WRITES") {
		t.Errorf("/ready on a latched store: %d Retry-After %q %.300s, want 503 LEDGER_REFUSES_WRITES without Retry-After",
			r.Status, r.Header.Get("Retry-After"), r.Body)
	}
	if r := s.Do("GET", "/health", "", nil); r.Status != http.StatusOK {
		t.Errorf("/health on a latched store: %d, want 200 (the process is live)", r.Status)
	}

	var stdout, stderr bytes.Buffer
	env := map[string]string{cli.EnvToken: servicetest.AdminSecret}
	cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer ccancel()
	start := time.Now()
	code := cli.Run(cctx, []string{"verify", "--server", s.URL(), "--key", s.VerifierKey()},
		cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return env[k] }})
	took := time.Since(start)
	t.Logf("verify --server on a latched store: exit %d after %s\n%s%s", code, took.Round(time.Millisecond), stdout.String(), stderr.String())
	if code == cli.ExitOK || strings.Contains(stderr.String(), "retrying") || took > 10*time.Second {
		t.Errorf("verify --server on a latched store: exit %d after %s (retried: %v); want a failure at once",
			code, took, strings.Contains(stderr.String(), "retrying"))
	}
}
