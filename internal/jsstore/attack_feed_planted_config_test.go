package jsstore_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/internal/jsstore"
)

// plantFeed writes, into a new data dir, a LEDGER_TOKENS stream in account
// FEED with cfg (and sealed when seal is set), through a plain nats-server
// on that dir: what someone with write access to the stopped data dir can
// leave there. It returns the dir.
func plantFeed(t *testing.T, cfg jetstream.StreamConfig, seal bool) string {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(t.TempDir(), "plant.conf")
	text := fmt.Sprintf(`listen: "127.0.0.1:-1"
server_name: tokenledger
jetstream { store_dir: %q }
accounts { %s { jetstream: enabled, users: [{user: planter, password: planter}] } }
`, dir, jsstore.FeedAccount)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	opts.NoSigs, opts.NoLog = true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("planting server not ready")
	}
	nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("planter", "planter"))
	if err != nil {
		t.Fatal(err)
	}
	js := newJS(t, nc)
	if _, err := js.CreateStream(ctxFor(t), cfg); err != nil {
		t.Fatal(err)
	}
	if seal {
		cfg.Sealed = true
		if _, err := js.UpdateStream(ctxFor(t), cfg); err != nil {
			t.Fatal(err)
		}
	}
	nc.Close()
	srv.Shutdown()
	srv.WaitForShutdown()
	return dir
}

// TestEnsureFeedReplacesAFeedThatCannotTakeEvents: EnsureFeed keeps an
// existing LEDGER_TOKENS when feedFits accepts its configuration, but
// feedFits checks only some fields. A planted feed that is sealed, or
// whose MaxMsgSize is smaller than any event, passes; the publisher then
// can never add a token event (readers never learn of a revocation) and
// retries forever. Such a feed
// must be rebuilt like any other misconfigured one, so that a token event
// appended after the start reaches readers.
func TestEnsureFeedReplacesAFeedThatCannotTakeEvents(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*jetstream.StreamConfig)
		seal   bool
	}{
		{"sealed", func(*jetstream.StreamConfig) {}, true},
		{"max message size 16 bytes", func(c *jetstream.StreamConfig) { c.MaxMsgSize = 16 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := jsstore.FeedStreamConfig()
			tc.change(&cfg)
			dir := plantFeed(t, cfg, tc.seal)
			e := startFeedServer(t, func(c *jsstore.EmbeddedConfig) { c.DataDir = dir })
			_, _, seq := create(t, e.store)
			rd, _ := e.connectReader(t)
			got := followAll(t, rd)
			eventually(t, 10*time.Second, func() error {
				for _, ev := range got() {
					if ev.LedgerSequence == seq {
						return nil
					}
				}
				return fmt.Errorf("the token event at ledger sequence %d never reached the planted feed", seq)
			})
		})
	}
}
