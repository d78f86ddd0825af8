package service_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// Someone with access to the stream seals LEDGER (a one-way change:
// JetStream never unseals a stream). Every append is refused from then
// on, for good: /ready must not say GOOD (send traffic here), and the
// refusals are 503s that no wait ends (no Retry-After).
func TestAttackR28ASealedStreamIsNotReadyAndAsksNoRetry(t *testing.T) {
	srv := natstest.RunServer(t)
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
		c.NATSURL, c.AllowUnsafeDurability = srv.ClientURL(), true
	})
	s.CreateToken("backend", "development")
	sealLedgerStream(t, srv)
	// The update advisory makes the store re-read the stream at once.
	var ready servicetest.Response
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if ready = s.Do("GET", "/ready", "", nil); ready.Status != http.StatusOK {
			break
		}
	}
	body := map[string]any{"tokenName": "r28", "type": "backend", "environment": "development", "projects": []string{"default"}}
	w := s.Do("POST", "/api/admin/api-tokens", servicetest.AdminSecret, body)
	t.Logf("write: %d Retry-After %q %.200s", w.Status, w.Header.Get("Retry-After"), w.Body)
	t.Logf("/ready: %d Retry-After %q %.300s", ready.Status, ready.Header.Get("Retry-After"), ready.Body)
	if w.Status != http.StatusServiceUnavailable {
		t.Fatalf("write on a sealed stream: %d", w.Status)
	}
	if ready.Status == http.StatusOK {
		t.Errorf("/ready on a sealed stream: 200 (send traffic here) while every write is refused for good")
	} else if ready.Header.Get("Retry-After") != "" {
		t.Errorf("/ready on a sealed stream: Retry-After %q: no wait ends a seal", ready.Header.Get("Retry-After"))
	}
	if w.Header.Get("Retry-After") != "" {
		t.Errorf("write on a sealed stream: Retry-After %q: no wait ends a seal", w.Header.Get("Retry-After"))
	}
}

// A ledger started on a stream sealed while it was down must not come up
// ready to take writes it will refuse for good: the start is refused, or
// /ready says so at once (no Retry-After).
func TestAttackR28AStartOnASealedStream(t *testing.T) {
	srv := natstest.RunServer(t)
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
		c.NATSURL, c.AllowUnsafeDurability = srv.ClientURL(), true
	})
	s.CreateToken("backend", "development")
	dir := s.Config.DataDir
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	sealLedgerStream(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	logs := &servicetest.LogBuffer{}
	c := servicetest.Config(dir, nil, logs)
	c.NATSURL, c.AllowUnsafeDurability = srv.ClientURL(), true
	m := service.NewMain(c)
	defer m.Close()
	err := m.Run(ctx)
	t.Logf("start on a sealed stream: %v", err)
	if err != nil {
		return // refused: right
	}
	r, rerr := http.Get(m.URL() + "/ready")
	if rerr != nil {
		t.Fatal(rerr)
	}
	r.Body.Close()
	if r.StatusCode == http.StatusOK || r.Header.Get("Retry-After") != "" {
		t.Errorf("started on a sealed stream: /ready %d Retry-After %q; want the start refused or 503 without Retry-After", r.StatusCode, r.Header.Get("Retry-After"))
	}
}

// sealLedgerStream seals the ledger's stream on srv through a connection
// of its own, as anyone with the stream's API could.
func sealLedgerStream(t *testing.T, srv *server.Server) {
	t.Helper()
	js, err := jetstream.New(natstest.Connect(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, jsstore.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.Sealed = true
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
}
