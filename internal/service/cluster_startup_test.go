package service_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// get answers a GET on the service's HTTP address (no credential).
func get(t *testing.T, base, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

// TestReplicaWaitsForAClusterThatIsNotUpYet starts a ledger replica
// while no node of its cluster runs: it does not exit, reports STARTING
// on /ready and answers 503 meanwhile, and serves once the nodes are up,
// on a stream with one replica per node.
func TestReplicaWaitsForAClusterThatIsNotUpYet(t *testing.T) {
	c := natstest.StartCluster(t, 3, nil)
	for i := range c.Size() {
		c.Stop(i)
	}
	logs := &servicetest.LogBuffer{}
	cfg := servicetest.Config(t.TempDir(), nil, logs)
	cfg.NATSURL = c.URLs()
	cfg.AllowUnsafeDurability = true // no system user to prove the nodes' sync_interval: always
	m := service.NewMain(cfg)
	t.Cleanup(func() { _ = m.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()

	servicetest.WaitFor(t, 30*time.Second, func() error {
		select {
		case err := <-done:
			t.Fatalf("Run returned while the cluster is down: %v\n%s", err, logs.String())
		default:
		}
		if !strings.Contains(logs.String(), "cannot open the ledger stream yet") {
			return errors.New("no log line says the replica waits for the cluster")
		}
		return nil
	})
	base := m.URL() // set before the log line above was written
	if code, body := get(t, base, "/ready"); code != http.StatusServiceUnavailable || !strings.Contains(body, "STARTING") {
		t.Fatalf("/ready while waiting: %d %s", code, body)
	}
	if code, _ := get(t, base, "/health"); code != http.StatusOK {
		t.Fatalf("/health while waiting: %d", code)
	}
	resp, err := http.Post(base+"/api/admin/api-tokens", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a request while waiting: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	for i := range c.Size() {
		c.StartAgain(i)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v\n%s", err, logs.String())
		}
	case <-ctx.Done():
		t.Fatalf("the replica did not start once the cluster was up\n%s", logs.String())
	}
	if code, body := get(t, base, "/ready"); code != http.StatusOK {
		t.Fatalf("/ready after start: %d %s", code, body)
	}
	js, _ := jetstream.New(c.Connect())
	st, err := js.Stream(ctx, jsstore.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	if r := st.CachedInfo().Config.Replicas; r != 3 {
		t.Fatalf("stream created with %d replicas on a 3-node cluster, want 3", r)
	}
}

// TestReplicaRefusesAOneReplicaStreamOnACluster: a LEDGER stream with one
// replica on a cluster loses its events with one server; the replica
// refuses to start, unless --allow-unsafe-durability, which it logs.
func TestReplicaRefusesAOneReplicaStreamOnACluster(t *testing.T) {
	c := natstest.StartCluster(t, 3, nil)
	js, _ := jetstream.New(c.Connect())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jsstore.StreamConfig(jsstore.Config{Replicas: 1})); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		unsafe bool
	}{{"refused", false}, {"allowed with a loud line", true}} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &servicetest.LogBuffer{}
			cfg := servicetest.Config(t.TempDir(), nil, logs)
			cfg.NATSURL, cfg.AllowUnsafeDurability = c.URLs(), tc.unsafe
			m := service.NewMain(cfg)
			defer m.Close()
			err := m.Run(ctx)
			var de *jsstore.DurabilityError
			switch {
			case !tc.unsafe && !errors.As(err, &de):
				t.Fatalf("Run = %v, want a durability refusal", err)
			case !tc.unsafe && !strings.Contains(err.Error(), "1 replica"):
				t.Fatalf("refusal %q does not name the replica count", err)
			case tc.unsafe && err != nil:
				t.Fatalf("Run with --allow-unsafe-durability: %v", err)
			case tc.unsafe && !strings.Contains(logs.String(), "UNSAFE DURABILITY"):
				t.Fatalf("no loud line:\n%s", logs.String())
			}
		})
	}
}

// clusterWithSystemAccount is a cluster whose ledger user is in account
// APP (JetStream) and whose sys user is in the system account; sync says
// whether its nodes sync every write.
func clusterWithSystemAccount(t *testing.T, sync bool) *natstest.Cluster {
	conf := filepath.Join(t.TempDir(), "accounts.conf")
	err := os.WriteFile(conf, []byte(`
accounts {
  SYS { users [ { user: sys, password: syspw } ] }
  APP { jetstream: enabled, users [ { user: ledger, password: pw } ] }
}
system_account: SYS
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return natstest.StartCluster(t, 3, func(_ int, o *server.Options) {
		parsed, err := server.ProcessConfigFile(conf)
		if err != nil {
			t.Fatal(err)
		}
		keep := *o
		*o = *parsed
		o.ServerName, o.Host, o.Port, o.NoLog, o.NoSigs = keep.ServerName, keep.Host, keep.Port, true, true
		o.JetStream, o.StoreDir, o.SyncAlways = true, keep.StoreDir, sync
		o.Cluster, o.Routes = keep.Cluster, keep.Routes
	})
}

// TestReplicaChecksTheServersSyncEveryWrite: with a system-account URL
// the replica reads every server's sync setting; servers that do not sync
// every write are refused, servers that do are accepted.
func TestReplicaChecksTheServersSyncEveryWrite(t *testing.T) {
	for _, tc := range []struct {
		name string
		sync bool
	}{{"sync off refused", false}, {"sync always accepted", true}} {
		t.Run(tc.name, func(t *testing.T) {
			c := clusterWithSystemAccount(t, tc.sync)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			logs := &servicetest.LogBuffer{}
			cfg := servicetest.Config(t.TempDir(), nil, logs)
			cfg.NATSURL = natstest.WithUserURL(c.URLs(), "ledger", "pw")
			cfg.NATSSystemURL = natstest.WithUserURL(c.URLs(), "sys", "syspw")
			m := service.NewMain(cfg)
			defer m.Close()
			err := m.Run(ctx)
			var de *jsstore.DurabilityError
			if tc.sync {
				if err != nil {
					t.Fatalf("Run: %v\n%s", err, logs.String())
				}
				if !strings.Contains(logs.String(), "durability checked") {
					t.Fatalf("no log line says the durability was checked:\n%s", logs.String())
				}
				return
			}
			if !errors.As(err, &de) || !strings.Contains(err.Error(), "sync_interval: always") {
				t.Fatalf("Run = %v, want a refusal naming sync_interval", err)
			}
			if strings.Contains(err.Error(), "syspw") || strings.Contains(logs.String(), "syspw") {
				t.Fatal("the system password leaked into the error or the logs")
			}
		})
	}
}
