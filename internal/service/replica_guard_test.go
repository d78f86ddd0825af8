package service_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// setReplicas changes the LEDGER stream's replica count through a second
// connection, as anyone with the ledger's credentials could.
func setReplicas(t *testing.T, js jetstream.JetStream, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, jsstore.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.Replicas = n
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatalf("set the stream's replicas to %d: %v", n, err)
	}
}

// A running ledger whose 3-replica stream is cut to one replica refuses
// writes (503, nothing appended), says so on /ready and in an ERROR line,
// and accepts writes again once the replicas are restored. Waiving the
// unproven sync setting (--allow-unsafe-durability, no system user) does
// not switch this guard off: the stream started replicated.
func TestLedgerRefusesWritesWhileItsStreamHasOneReplicaAndRecovers(t *testing.T) {
	c := natstest.StartCluster(t, 3, nil)
	// Stop the nodes before their temporary dirs are removed (cleanups run
	// last-registered first; the cluster's own shutdown was registered
	// before its dirs): a node catching up a replica writes into them.
	t.Cleanup(func() {
		for i := range c.Size() {
			if c.Server(i) != nil {
				c.Stop(i)
			}
		}
	})
	s := servicetest.StartWith(t, "", nil, func(cfg *service.Config) {
		cfg.NATSURL, cfg.AllowUnsafeDurability = c.URLs(), true
	})
	js, err := jetstream.New(c.Connect())
	if err != nil {
		t.Fatal(err)
	}
	setReplicas(t, js, 1)
	servicetest.WaitFor(t, 15*time.Second, func() error {
		if s.Store.Health() == nil {
			return errors.New("the store did not notice its stream cut to 1 replica")
		}
		return nil
	})
	if r := s.Do("GET", "/ready", "", nil); r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), "LEDGER_REFUSES_WRITES") {
		t.Errorf("/ready with a one-replica stream: %d %s", r.Status, r.Body)
	}
	before := s.LastSeq()
	r := s.Do("POST", "/api/admin/api-tokens", servicetest.AdminSecret,
		map[string]any{"tokenName": "while-cut", "type": "client", "environment": "development"})
	if r.Status != http.StatusServiceUnavailable {
		t.Errorf("create with a one-replica stream: %d %s, want 503", r.Status, r.Body)
	}
	if after := s.LastSeq(); after != before {
		t.Errorf("the stream grew from %d to %d while the ledger refused writes", before, after)
	}
	if !strings.Contains(s.Logs(), "refusing writes") || !strings.Contains(s.Logs(), "1 replica") {
		t.Errorf("no log line says why writes are refused:\n%s", s.Logs())
	}

	setReplicas(t, js, 3)
	servicetest.WaitFor(t, 30*time.Second, func() error {
		if err := s.Store.Health(); err != nil {
			return err
		}
		if r := s.Do("GET", "/ready", "", nil); r.Status != http.StatusOK {
			return errors.New(string(r.Body))
		}
		return nil
	})
	s.CreateToken("client", "development")
	if !strings.Contains(s.Logs(), "fit again") {
		t.Errorf("no log line says writes resumed:\n%s", s.Logs())
	}
}
