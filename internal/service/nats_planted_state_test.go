package service_test

// Attacks by someone with write access to the data dir while the service
// is stopped: state planted in the store that the service recovers.

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// plantInLedgerAccount starts the embedded server without accounts on dir
// (what the data dir holds in the global account is moved to LEDGER at the
// next start, as a pre-upgrade data dir) and lets plant create state.
func plantInLedgerAccount(t *testing.T, dir string, plant func(ctx context.Context, js jetstream.JetStream)) {
	t.Helper()
	old, err := jsstore.StartEmbedded(context.Background(), jsstore.EmbeddedConfig{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect("", nats.InProcessServer(old))
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jsstore.StreamConfig(jsstore.Config{})); err != nil {
		t.Fatal(err)
	}
	plant(ctx, js)
	nc.Close()
	old.Shutdown()
	old.WaitForShutdown()
}

// A push consumer on a second stream in the ledger's account, planted
// while the service is stopped, delivers idle heartbeats onto
// $JS.EVENT.ADVISORY.STREAM.UPDATED.LEDGER; each fails appends closed until
// the next re-read. Start-up removes foreign consumers only on LEDGER
// itself, so this one survives (every restart) and the ledger keeps
// answering 503 to some writes.
func TestPlantedConsumerOnAnotherStreamCannotFailAppendsClosed(t *testing.T) {
	dir := t.TempDir()
	plantInLedgerAccount(t, dir, func(ctx context.Context, js jetstream.JetStream) {
		evil, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EVIL", Subjects: []string{"evil.>"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := evil.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "evil",
			DeliverSubject: "$JS.EVENT.ADVISORY.STREAM.UPDATED." + jsstore.DefaultStream, IdleHeartbeat: 100 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	})
	s := startWithReaders(t, dir, func(c *service.Config) { c.MutationRate = 0 })
	failed := 0
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < 5000 && failed == 0 && time.Now().Before(deadline); i++ { // bounded in count and time
		r := s.Do("POST", "/api/admin/api-tokens", servicetest.AdminSecret,
			map[string]any{"tokenName": "t", "type": "backend", "environment": "development"})
		if r.Status != http.StatusCreated {
			failed++
			t.Logf("create %d: %d %s", i, r.Status, r.Body)
		}
	}
	if failed > 0 {
		t.Fatalf("%d creates failed with a planted heartbeat consumer on another stream in the ledger's account", failed)
	}
}

// A consumer metafile that this nats-server cannot load (a field it does
// not know, or a required API level above its own) makes it stop the whole
// stream at recovery ("Stopping unsupported stream"). Consumer metafiles
// carry no checked checksum, so someone with write access to the stopped
// data dir plants one under LEDGER's obs/ and the ledger cannot start,
// although docs/decisions.md removes planted consumers precisely so that
// "whoever planted the consumer" cannot keep the ledger down.
func TestPlantedUnloadableConsumerDoesNotKeepTheLedgerDown(t *testing.T) {
	tests := []struct {
		name  string
		plant func(m map[string]any)
	}{
		{"required API level above the server's", func(m map[string]any) { m["metadata"] = map[string]string{"_nats.req.level": "1000"} }},
		{"unknown field", func(m map[string]any) { m["evil_field"] = true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			plantInLedgerAccount(t, dir, func(ctx context.Context, js jetstream.JetStream) {
				st, err := js.Stream(ctx, jsstore.DefaultStream)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "evil"}); err != nil {
					t.Fatal(err)
				}
			})
			meta := filepath.Join(dir, "jetstream", "$G", "streams", jsstore.DefaultStream, "obs", "evil", "meta.inf")
			b, err := os.ReadFile(meta)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			tt.plant(m)
			if b, err = json.Marshal(m); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(meta, b, 0o600); err != nil {
				t.Fatal(err)
			}
			logs, err := tryStart(t, func(c *service.Config) { c.DataDir = dir })
			if err != nil {
				t.Fatalf("a planted consumer metafile keeps the ledger from starting: %v\n%s", err, lastLines(logs, 6))
			}
			if !strings.Contains(logs, "cannot load") || !strings.Contains(logs, filepath.Join("obs", "evil")) {
				t.Errorf("the removal is not logged naming the consumer's directory:\n%s", lastLines(logs, 10))
			}
		})
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
