package service_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tokenledger/tokenledger/internal/httpapi"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// TestBlackHoledReplicaRefusesWritesAndSaysHowStaleItsReadsAre puts a
// silent black hole between one of two replicas and the cluster: its
// only NATS connection (through a loopback proxy) stays open but carries
// nothing either way, so only its unanswered pings (every 500 ms here)
// tell it. It then behaves as a replica whose connection was cut (see
// [checkPartitionedReplica]).
func TestBlackHoledReplicaRefusesWritesAndSaysHowStaleItsReadsAre(t *testing.T) {
	checkPartitionedReplica(t, "hole", (*natstest.Proxy).Blackhole, 500*time.Millisecond)
}

// checkPartitionedReplica starts two replicas, the second with its only
// NATS connection through a loopback proxy (the nodes advertise no other
// address, and it pings every ping), and partitions it with partition.
// The partitioned replica reports not ready ("not connected to NATS"),
// refuses creates at once with 503 and Retry-After (nothing stored), and
// still answers reads, saying in X-Ledger-Staleness and /health how old
// they may be, while the other replica keeps taking writes. Healed, it
// catches up: the other's writes are visible, it is ready, both report
// the same digest, its staleness falls, and it takes writes again.
func checkPartitionedReplica(t *testing.T, prefix string, partition func(*natstest.Proxy), ping time.Duration) {
	t.Helper()
	c := natstest.StartCluster(t, 3, func(_ int, o *server.Options) { o.Cluster.NoAdvertise = true })
	key := filepath.Join(t.TempDir(), "ledger.signing-key")
	a := startReplica(t, c, key)
	proxy := natstest.StartProxy(t, strings.TrimPrefix(c.ClientURL(1), "nats://"))
	b := servicetest.StartWith(t, "", nil, func(cfg *service.Config) {
		cfg.NATSURL, cfg.NATSReplicas, cfg.MutationRate, cfg.ReadWait = proxy.URL(), 3, 0, 10*time.Second
		cfg.NATSPingInterval = ping
		cfg.SigningKey = key
		cfg.AllowUnsafeDurability = true // no system user to prove the nodes' sync_interval: always
	})
	if d := b.Conn().DiscoveredServers(); len(d) != 0 {
		t.Fatalf("replica b learnt other addresses than the proxy: %v", d)
	}
	for i, r := range []*servicetest.Service{a, b} {
		if o := create(r.URL(), fmt.Sprintf("%s-key-%d", prefix, i), i); kind(o) != "ok" {
			t.Fatalf("create through replica %d: %d %s", i, o.status, o.body)
		}
	}

	partition(proxy)
	servicetest.WaitFor(t, 30*time.Second, func() error {
		code, body := get(t, b.URL(), "/ready")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "LEDGER_REFUSES_WRITES") ||
			!strings.Contains(body, "not connected to NATS") {
			return fmt.Errorf("/ready of the partitioned replica: %d %s", code, body)
		}
		return nil
	})
	refused := create(b.URL(), prefix+"-key-refused", 10)
	if kind(refused) != "failed" {
		t.Fatalf("create on the partitioned replica: %d (Retry-After %q) %s; want 503 \"nothing was changed\"", refused.status, refused.retry, refused.body)
	}
	other := create(a.URL(), prefix+"-key-other", 11)
	if kind(other) != "ok" {
		t.Fatalf("create on the replica that can reach the cluster: %d %s", other.status, other.body)
	}

	// Reads: served from the replica's memory, with their age.
	resp := b.Do("GET", "/api/admin/api-tokens", servicetest.AdminSecret, nil)
	stale, err := strconv.Atoi(resp.Header.Get(httpapi.StalenessHeader))
	if resp.Status != http.StatusOK || err != nil || stale < 3 {
		t.Fatalf("read on the partitioned replica: %d, %s %q; want 200 and at least the 3 s it has not reached the stream",
			resp.Status, httpapi.StalenessHeader, resp.Header.Get(httpapi.StalenessHeader))
	}
	if strings.Contains(string(resp.Body), other.id) {
		t.Fatal("the partitioned replica shows a token created after the partition")
	}
	if h := adminHealth(t, b.URL()); h.Staleness == nil || *h.Staleness < 3 {
		t.Fatalf("/health of the partitioned replica: staleness %v", h.Staleness)
	}

	proxy.Heal()
	waitReady(t, b.URL(), http.StatusOK, 30*time.Second)
	hs := waitSameState(t, c, a, b)
	if hs[0].State.Digest != hs[1].State.Digest {
		t.Fatalf("after the partition healed: digests %s and %s at %d", hs[0].State.Digest, hs[1].State.Digest, hs[0].State.LastApplied)
	}
	if _, ok := b.Tokens.ByID(other.id); !ok {
		t.Fatal("the healed replica does not show the token created during the partition")
	}
	if n := len(b.Tokens.ByName("burst-10")); n != 0 {
		t.Fatalf("the create refused during the partition stored %d token(s)", n)
	}
	servicetest.WaitFor(t, 10*time.Second, func() error {
		resp := b.Do("GET", "/api/admin/api-tokens", servicetest.AdminSecret, nil)
		if s, _ := strconv.Atoi(resp.Header.Get(httpapi.StalenessHeader)); s >= stale {
			return fmt.Errorf("staleness %d s after healing, %d s during the partition", s, stale)
		}
		return nil
	})
	if o := create(b.URL(), prefix+"-key-after", 12); kind(o) != "ok" {
		t.Fatalf("create on the replica after the partition healed: %d %s", o.status, o.body)
	}
}
