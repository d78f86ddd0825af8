package service_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// TestBlackHoleLongerThanTheConsumersInactiveThreshold black-holes one
// replica's only NATS connection for 13 s (past the ordered consumer's
// 10 s InactiveThreshold: the server deletes it) while the other replica
// takes writes, with a create in flight on the black-holed replica. Healed,
// the replica must be ready, show every write and have the same digest;
// the in-flight create, sent again with its key, answers 2xx.
func TestBlackHoleLongerThanTheConsumersInactiveThreshold(t *testing.T) {
	c := natstest.StartCluster(t, 3, func(_ int, o *server.Options) { o.Cluster.NoAdvertise = true })
	key := filepath.Join(t.TempDir(), "ledger.signing-key")
	a := startReplica(t, c, key)
	proxy := natstest.StartProxy(t, strings.TrimPrefix(c.ClientURL(1), "nats://"))
	b := servicetest.StartWith(t, "", nil, func(cfg *service.Config) {
		cfg.NATSURL, cfg.NATSReplicas, cfg.MutationRate, cfg.ReadWait = proxy.URL(), 3, 0, 10*time.Second
		cfg.NATSPingInterval = 5 * time.Second
		cfg.SigningKey = key
		cfg.AllowUnsafeDurability = true
	})
	if o := create(b.URL(), "hole-first", 0); kind(o) != "ok" {
		t.Fatalf("create on b: %d %s", o.status, o.body)
	}
	proxy.Blackhole()
	inflight := make(chan outcome, 1)
	go func() { inflight <- create(b.URL(), "hole-inflight", 1) }()
	var ids []string
	for i := range 10 {
		o := create(a.URL(), fmt.Sprintf("hole-a-%d", i), 100+i)
		if kind(o) == "ok" {
			ids = append(ids, o.id)
		}
		time.Sleep(1300 * time.Millisecond)
	}
	proxy.Heal()
	first := <-inflight
	t.Logf("create in flight on the black-holed replica: %d %s", first.status, first.body)
	if !(first.status >= 200 && first.status < 300 || first.status == http.StatusServiceUnavailable && first.retry != "") {
		t.Errorf("in-flight create answered %d: %s", first.status, first.body)
	}
	waitReady(t, b.URL(), http.StatusOK, 30*time.Second)
	hs := waitSameState(t, c, a, b)
	if hs[0].State.Digest != hs[1].State.Digest {
		t.Fatalf("after healing: digests differ")
	}
	for _, id := range ids {
		if _, ok := b.Tokens.ByID(id); !ok {
			t.Errorf("token %s created on a during the black hole is missing on b", id)
		}
	}
	again := create(b.URL(), "hole-inflight", 1)
	t.Logf("sent again: %d %s", again.status, again.body)
	if first.status == http.StatusServiceUnavailable && !strings.Contains(first.body, "may or may not") && again.status == http.StatusOK {
		t.Errorf("the in-flight create answered 503 \"nothing was changed\", but sent again it is replayed (200): it was stored")
	}
	if kind(again) != "ok" {
		t.Errorf("the in-flight create sent again: %d %s", again.status, again.body)
	}
}
