package jsstore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/storetest"
	"github.com/tokenledger/tokenledger/projections"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (commands.EventStore, projections.Source) {
		st := openStore(t).store
		return st, st
	})
}

func TestOpenCreatesAuditGradeStream(t *testing.T) {
	e := openStore(t)
	s, err := e.js.Stream(ctxFor(t), "LEDGER")
	if err != nil {
		t.Fatal(err)
	}
	got := s.CachedInfo().Config
	if err := jsstore.CheckConfig(got); err != nil {
		t.Fatalf("created stream fails its own check: %v", err)
	}
	want := jsstore.StreamConfig(jsstore.Config{})
	checks := []struct {
		name      string
		got, want any
	}{
		{"subjects", got.Subjects, []string{"ledger.>"}},
		{"storage", got.Storage, jetstream.FileStorage},
		{"retention", got.Retention, jetstream.LimitsPolicy},
		{"discard", got.Discard, jetstream.DiscardNew},
		{"deny delete", got.DenyDelete, true},
		{"deny purge", got.DenyPurge, true},
		{"allow rollup", got.AllowRollup, false},
		{"allow direct", got.AllowDirect, true},
		{"allow atomic", got.AllowAtomicPublish, true},
		{"allow msg ttl", got.AllowMsgTTL, false},
		{"max age", got.MaxAge, time.Duration(0)},
		{"max msgs", got.MaxMsgs, int64(-1)},
		{"max bytes", got.MaxBytes, int64(-1)},
		{"max msgs per subject", got.MaxMsgsPerSubject, int64(-1)},
		{"max msg size", got.MaxMsgSize, int32(64 << 10)},
		{"duplicates", got.Duplicates, 2 * time.Minute},
		{"replicas", got.Replicas, 1},
		{"schema metadata", got.Metadata["tokenledger.schema"], want.Metadata["tokenledger.schema"]},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestOpenAcceptsExistingAuditGradeStream(t *testing.T) {
	e := openStore(t)
	before, err := e.js.Stream(ctxFor(t), "LEDGER")
	if err != nil {
		t.Fatal(err)
	}
	mustOpen(t, e.nc, jsstore.Config{Duplicates: time.Hour}) // a different default must not be applied
	after, err := e.js.Stream(ctxFor(t), "LEDGER")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before.CachedInfo().Config, after.CachedInfo().Config) {
		t.Fatalf("second Open changed the stream config:\nbefore %+v\nafter  %+v", before.CachedInfo().Config, after.CachedInfo().Config)
	}
}

func TestOpenRefusesUnsafeStream(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*jetstream.StreamConfig)
		want   []string // substrings of the error, one per violation
	}{
		{"allows deletes", func(c *jetstream.StreamConfig) { c.DenyDelete = false }, []string{"message deletes allowed"}},
		{"allows purges", func(c *jetstream.StreamConfig) { c.DenyPurge = false }, []string{"purges allowed"}},
		{"allows roll-ups", func(c *jetstream.StreamConfig) { c.DenyPurge, c.AllowRollup = false, true }, []string{"purges allowed", "roll-ups allowed"}},
		{"allows per-message TTLs", func(c *jetstream.StreamConfig) { c.AllowMsgTTL = true }, []string{"TTLs allowed"}},
		{"has MaxAge", func(c *jetstream.StreamConfig) { c.MaxAge = time.Hour }, []string{"max_age limit 1h0m0s"}},
		{"has MaxMsgs", func(c *jetstream.StreamConfig) { c.MaxMsgs = 1000 }, []string{"max_msgs limit 1000"}},
		{"has MaxBytes", func(c *jetstream.StreamConfig) { c.MaxBytes = 1 << 30 }, []string{"max_bytes limit"}},
		{"has MaxMsgsPerSubject", func(c *jetstream.StreamConfig) { c.MaxMsgsPerSubject = 5 }, []string{"max_msgs_per_subject limit 5"}},
		{"discards old events", func(c *jetstream.StreamConfig) { c.Discard = jetstream.DiscardOld }, []string{"discard policy"}},
		{"is in memory", func(c *jetstream.StreamConfig) { c.Storage = jetstream.MemoryStorage }, []string{"storage Memory"}},
		{"has interest retention", func(c *jetstream.StreamConfig) { c.Retention = jetstream.InterestPolicy }, []string{"retention Interest"}},
		{"does not cover ledger.>", func(c *jetstream.StreamConfig) { c.Subjects = []string{"ledger.token.>"} }, []string{"do not cover ledger.>"}},
		{"has no direct get", func(c *jetstream.StreamConfig) { c.AllowDirect = false }, []string{"direct get not allowed"}},
		{"has no atomic batches", func(c *jetstream.StreamConfig) { c.AllowAtomicPublish = false }, []string{"atomic batch publish not allowed"}},
		{"sources another stream", func(c *jetstream.StreamConfig) {
			c.Sources = []*jetstream.StreamSource{{Name: "OTHER"}}
		}, []string{"stream sources 1 other stream"}},
		{"allows message schedules", func(c *jetstream.StreamConfig) { // the server needs DiscardOld and roll-ups for them
			c.AllowMsgSchedules, c.Discard, c.DenyPurge, c.AllowRollup = true, jetstream.DiscardOld, false, true
		}, []string{"message schedules allowed", "discard policy", "purges allowed", "roll-ups allowed"}},
		{"names every violation", func(c *jetstream.StreamConfig) {
			c.DenyDelete, c.MaxAge, c.MaxMsgs = false, 24*time.Hour, 10
		}, []string{"message deletes allowed", "max_age limit 24h0m0s", "max_msgs limit 10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := natstest.RunServer(t)
			nc := natstest.Connect(t, srv)
			js := newJS(t, nc)
			ctx := ctxFor(t)
			cfg := jsstore.StreamConfig(jsstore.Config{})
			tt.mutate(&cfg)
			s, err := js.CreateStream(ctx, cfg)
			if err != nil {
				t.Fatalf("create the unsafe stream: %v", err)
			}
			before := s.CachedInfo().Config

			st, err := jsstore.Open(ctx, nc, jsstore.Config{})
			if err == nil {
				st.Close()
				t.Fatal("Open accepted the stream")
			}
			var ce *jsstore.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Open error %v is not a *ConfigError", err)
			}
			if len(ce.Problems) != len(tt.want) {
				t.Errorf("problems %q, want %d", ce.Problems, len(tt.want))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			s, err = js.Stream(ctx, "LEDGER")
			if err != nil {
				t.Fatal(err)
			}
			if after := s.CachedInfo().Config; !reflect.DeepEqual(before, after) {
				t.Fatalf("Open modified the existing stream:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
}

func TestOpenRefusesServerWithoutJetStream(t *testing.T) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	nc := natstest.Connect(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = jsstore.Open(ctx, nc, jsstore.Config{})
	if err == nil || !strings.Contains(err.Error(), "JetStream") {
		t.Fatalf("Open = %v, want an error about JetStream", err)
	}
}

func TestFailsClosed(t *testing.T) {
	tests := []struct {
		name   string
		change func(ctx context.Context, js jetstream.JetStream) error
		want   string // in Health's error
	}{
		{"when MaxAge is added", func(ctx context.Context, js jetstream.JetStream) error {
			return update(ctx, js, func(c *jetstream.StreamConfig) { c.MaxAge = time.Hour })
		}, "max_age limit 1h0m0s"},
		{"when MaxMsgs is added", func(ctx context.Context, js jetstream.JetStream) error {
			return update(ctx, js, func(c *jetstream.StreamConfig) { c.MaxMsgs = 1 << 20 })
		}, "max_msgs limit"},
		{"when the stream is deleted", func(ctx context.Context, js jetstream.JetStream) error {
			return js.DeleteStream(ctx, "LEDGER")
		}, "was deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Advisories are hints that may be lost (advisory_hint_test.go
			// covers them); the periodic re-check is the guarantee, so it
			// runs often here.
			e := openStoreWith(t, jsstore.Config{Recheck: 2 * time.Second})
			ctx := ctxFor(t)
			id, first, seq := create(t, e.store)
			if err := e.store.Health(); err != nil {
				t.Fatalf("Health before the change: %v", err)
			}
			if err := tt.change(ctx, e.js); err != nil {
				t.Fatalf("change: %v", err)
			}
			next := commands.Append{Event: storetest.Event(t, id, events.TokenRevoked{Reason: events.ReasonCompromised}, first.Hash), Expected: seq, MsgID: storetest.NewEventID()}
			eventually(t, 30*time.Second, func() error {
				h := e.store.Health()
				if h == nil || !strings.Contains(h.Error(), tt.want) {
					return fmt.Errorf("Health = %v, want it to name %q", h, tt.want)
				}
				return nil
			})
			_, err := e.store.Append(ctx, next)
			if !errors.Is(err, commands.ErrUnavailable) {
				t.Fatalf("Append after the change = %v, want ErrUnavailable", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Append error %q does not say why (%q)", err, tt.want)
			}
		})
	}
}

func update(ctx context.Context, js jetstream.JetStream, mutate func(*jetstream.StreamConfig)) error {
	s, err := js.Stream(ctx, "LEDGER")
	if err != nil {
		return err
	}
	cfg := s.CachedInfo().Config
	mutate(&cfg)
	_, err = js.UpdateStream(ctx, cfg)
	return err
}

func TestFollowStopsWhenTheStreamIsDeleted(t *testing.T) {
	// The deletion advisory can be lost under load; the periodic recheck
	// (as in production, shorter here) finds the stream gone anyway.
	e := openStoreWith(t, jsstore.Config{Recheck: 2 * time.Second})
	ctx := ctxFor(t)
	create(t, e.store)
	started := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- e.store.Follow(ctx, 1, func(events.Envelope) error {
			select {
			case started <- struct{}{}:
			default:
			}
			return nil
		})
	}()
	select {
	case <-started:
	case <-time.After(testTimeout):
		t.Fatal("Follow delivered nothing")
	}
	if err := e.js.DeleteStream(ctx, "LEDGER"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, commands.ErrUnavailable) {
			t.Fatalf("Follow = %v, want ErrUnavailable", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Follow kept running on a deleted stream")
	}
}

func TestHarmlessUpdateKeepsAccepting(t *testing.T) {
	e := openStore(t)
	ctx := ctxFor(t)
	if err := update(ctx, e.js, func(c *jetstream.StreamConfig) { c.Description = "still append-only" }); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if err := e.store.Health(); err != nil {
			return err
		}
		_, err := e.store.Append(ctx, commands.Append{Event: storetest.Event(t, storetest.NewAggregateID(), storetest.TokenCreated(), "")})
		return err
	})
}

func TestSealedStreamRefusesAppends(t *testing.T) {
	e := openStore(t)
	ctx := ctxFor(t)
	id, _, _ := create(t, e.store)
	if err := update(ctx, e.js, func(c *jetstream.StreamConfig) { c.Sealed = true }); err != nil {
		t.Fatal(err)
	}
	// Nothing stored can be lost, but JetStream never unseals a stream:
	// once the update is re-checked the store fails closed for good
	// (atk-r28): Health names the seal and every append is refused as
	// one no wait ends (ErrFailedClosed: no Retry-After).
	eventually(t, 30*time.Second, func() error {
		if err := e.store.Health(); err == nil || !strings.Contains(err.Error(), "sealed") || !errors.Is(err, commands.ErrFailedClosed) {
			return fmt.Errorf("Health = %v, want the seal, failed closed for good", err)
		}
		_, err := e.store.Append(ctx, commands.Append{Event: storetest.Event(t, storetest.NewAggregateID(), storetest.TokenCreated(), "")})
		if !errors.Is(err, commands.ErrUnavailable) || !errors.Is(err, commands.ErrFailedClosed) {
			return fmt.Errorf("Append = %v, want ErrUnavailable and ErrFailedClosed from the sealed stream", err)
		}
		return nil
	})
	if evs, err := e.store.Load(ctx, events.KindToken, id); err != nil || len(evs) != 1 {
		t.Fatalf("Load of a sealed stream = %d events, %v; want 1, nil", len(evs), err)
	}
}

func TestCloseUnsubscribesAndRefusesAppends(t *testing.T) {
	srv := natstest.RunServer(t)
	nc := natstest.Connect(t, srv)
	newJS(t, nc)
	// Warm up the request mux so that it does not count as the store's.
	if _, err := newJS(t, nc).AccountInfo(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	base := nc.NumSubscriptions()
	st, err := jsstore.Open(ctxFor(t), nc, jsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if n := nc.NumSubscriptions(); n != base+2 {
		t.Fatalf("%d subscriptions after Open, want %d (two advisories)", n, base+2)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if n := nc.NumSubscriptions(); n != base {
		t.Fatalf("%d subscriptions after Close, want %d", n, base)
	}
	_, err = st.Append(ctxFor(t), commands.Append{Event: storetest.Event(t, storetest.NewAggregateID(), storetest.TokenCreated(), "")})
	if !errors.Is(err, commands.ErrUnavailable) {
		t.Fatalf("Append after Close = %v, want ErrUnavailable", err)
	}
	if st.Health() == nil {
		t.Fatal("Health after Close is nil")
	}
}

func TestRestartKeepsEveryEvent(t *testing.T) {
	type node struct {
		srv *server.Server
		nc  *nats.Conn
	}
	tests := []struct {
		name  string
		start func(t *testing.T, dir string) node
	}{
		{"embedded, in-process, fsync always", func(t *testing.T, dir string) node {
			srv, err := jsstore.StartEmbedded(ctxFor(t), jsstore.EmbeddedConfig{DataDir: dir, SyncAlways: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
			nc, err := nats.Connect("", nats.InProcessServer(srv))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(nc.Close)
			return node{srv, nc}
		}},
		{"test server over loopback", func(t *testing.T, dir string) node {
			srv := natstest.RunServerAt(t, dir)
			return node{srv, natstest.Connect(t, srv)}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx := ctxFor(t)
			n1 := tt.start(t, dir)
			st1, err := jsstore.Open(ctx, n1.nc, jsstore.Config{})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for range 20 {
				id, _, _ := create(t, st1)
				ids = append(ids, id)
			}
			var batch []commands.Append
			for range 5 {
				id := storetest.NewAggregateID()
				ids = append(ids, id)
				batch = append(batch, commands.Append{Event: storetest.Event(t, id, storetest.TokenCreated(), ""), MsgID: storetest.NewEventID()})
			}
			if _, err := st1.Append(ctx, batch...); err != nil {
				t.Fatal(err)
			}
			before := loadAll(t, st1, ids)
			last1, err := st1.LastSequence(ctx)
			if err != nil {
				t.Fatal(err)
			}
			st1.Close()
			n1.nc.Close()
			n1.srv.Shutdown()
			n1.srv.WaitForShutdown()

			n2 := tt.start(t, dir)
			st2 := mustOpen(t, n2.nc, jsstore.Config{})
			if last2, err := st2.LastSequence(ctx); err != nil || last2 != last1 {
				t.Fatalf("LastSequence after restart = %d, %v; want %d", last2, err, last1)
			}
			if after := loadAll(t, st2, ids); !reflect.DeepEqual(before, after) {
				t.Fatal("events differ after the restart")
			}
			var n int
			if err := st2.Replay(ctx, 1, last1, func(e events.Envelope) error {
				n++
				if e.Sequence != uint64(n) {
					return fmt.Errorf("replay delivered %d as event %d", e.Sequence, n)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if n != len(ids) {
				t.Fatalf("replay after restart delivered %d events, want %d", n, len(ids))
			}
		})
	}
}

func loadAll(t *testing.T, st *jsstore.Store, ids []string) map[string][]events.Envelope {
	t.Helper()
	out := make(map[string][]events.Envelope, len(ids))
	for _, id := range ids {
		evs, err := st.Load(ctxFor(t), events.KindToken, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 {
			t.Fatalf("aggregate %s has %d events, want 1", id, len(evs))
		}
		out[id] = evs
	}
	return out
}

func TestDefaultEmbeddedSyncsEveryWrite(t *testing.T) {
	dir := t.TempDir()
	cfg := jsstore.DefaultEmbedded(dir)
	if !cfg.SyncAlways {
		t.Fatal("DefaultEmbedded: SyncAlways is off; production must fsync every write")
	}
	if cfg.DataDir != dir || cfg.Listen != "" {
		t.Fatalf("DefaultEmbedded = %+v, want DataDir %s and no listener", cfg, dir)
	}
	srv, err := jsstore.StartEmbedded(ctxFor(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if jc := srv.JetStreamConfig(); jc == nil || !jc.SyncAlways || filepath.Dir(jc.StoreDir) != dir {
		t.Fatalf("running JetStream config %+v, want SyncAlways in %s", jc, dir)
	}
	if srv.Addr() != nil {
		t.Fatalf("server listens on %v, want no listener", srv.Addr())
	}
}

func TestStartEmbedded(t *testing.T) {
	tests := []struct {
		name    string
		cfg     func(dir string) jsstore.EmbeddedConfig
		connect func(*server.Server) (*nats.Conn, error)
		wantErr string
	}{
		{"in-process only", func(dir string) jsstore.EmbeddedConfig { return jsstore.EmbeddedConfig{DataDir: dir} },
			func(s *server.Server) (*nats.Conn, error) { return nats.Connect("", nats.InProcessServer(s)) }, ""},
		{"loopback with a random port", func(dir string) jsstore.EmbeddedConfig {
			return jsstore.EmbeddedConfig{DataDir: dir, Listen: "127.0.0.1:0", OwnerPassword: "pw", FeedPassword: "fpw"}
		}, func(s *server.Server) (*nats.Conn, error) {
			return nats.Connect(s.ClientURL(), nats.UserInfo(jsstore.OwnerUser, "pw"))
		}, ""},
		{"listening without an owner password is refused", func(dir string) jsstore.EmbeddedConfig {
			return jsstore.EmbeddedConfig{DataDir: dir, Listen: "127.0.0.1:0"}
		}, nil, "needs OwnerPassword"},
		{"no data dir", func(string) jsstore.EmbeddedConfig { return jsstore.EmbeddedConfig{} }, nil, "DataDir is required"},
		{"bad listen address", func(dir string) jsstore.EmbeddedConfig {
			return jsstore.EmbeddedConfig{DataDir: dir, Listen: "127.0.0.1", OwnerPassword: "pw", FeedPassword: "fpw"}
		}, nil, "listen address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := jsstore.StartEmbedded(ctxFor(t), tt.cfg(t.TempDir()))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("StartEmbedded = %v, want an error naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
			if name := srv.Name(); name != "tokenledger" {
				t.Errorf("server name %q, want tokenledger", name)
			}
			nc, err := tt.connect(srv)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(nc.Close)
			st := mustOpen(t, nc, jsstore.Config{})
			create(t, st)
		})
	}
}

func TestGetBatchTakesAWildcardSubject(t *testing.T) {
	e := openStore(t)
	ctx := ctxFor(t)
	for _, subj := range []string{"ledger.token.a.created", "ledger.token.b.created", "ledger.token.a.revoked", "ledger.token.ab.created"} {
		if _, err := e.js.Publish(ctx, subj, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	it, err := jetstreamext.GetBatch(ctx, e.js, "LEDGER", 10, jetstreamext.GetBatchSeq(1), jetstreamext.GetBatchSubject("ledger.token.a.*"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for m, err := range it {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s", m.Sequence, m.Subject))
	}
	if want := []string{"1 ledger.token.a.created", "3 ledger.token.a.revoked"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("GetBatch(ledger.token.a.*) = %q, want %q", got, want)
	}
}

func TestLoadPagesThroughALongHistory(t *testing.T) {
	jsstore.SetLoadPageSize(t, 3)
	e := openStore(t)
	ctx := ctxFor(t)
	id, first, seq := create(t, e.store)
	want := []events.Envelope{first}
	prev := first.Hash
	for i := range 10 {
		create(t, e.store) // other aggregates in between
		ev := storetest.Event(t, id, events.TokenExpiryChanged{}, prev)
		stored, err := e.store.Append(ctx, commands.Append{Event: ev, Expected: seq, MsgID: storetest.NewEventID()})
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		seq = stored.Seq
		want = append(want, ev)
		prev = ev.Hash
	}
	got, err := e.store.Load(ctx, events.KindToken, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Load returned %d events over pages of 3, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID {
			t.Fatalf("event %d is %s, want %s", i, got[i].ID, want[i].ID)
		}
	}
	if err := events.VerifyChain(got); err != nil {
		t.Fatal(err)
	}
}

func TestAppendBatchLimit(t *testing.T) {
	tests := []struct {
		n       int
		wantErr bool
	}{
		{jsstore.MaxBatch, false},
		{jsstore.MaxBatch + 1, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d events", tt.n), func(t *testing.T) {
			e := openStore(t)
			ctx := ctxFor(t)
			batch := make([]commands.Append, tt.n)
			for i := range batch {
				batch[i] = commands.Append{Event: storetest.Event(t, storetest.NewAggregateID(), storetest.TokenCreated(), ""), MsgID: storetest.NewEventID()}
			}
			stored, err := e.store.Append(ctx, batch...)
			seq := stored.Seq
			last, lerr := e.store.LastSequence(ctx)
			if lerr != nil {
				t.Fatal(lerr)
			}
			if tt.wantErr {
				if err == nil || errors.Is(err, commands.ErrConflict) {
					t.Fatalf("Append of %d = %v, want a size error", tt.n, err)
				}
				if last != 0 {
					t.Fatalf("%d events stored after a refused batch", last)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if seq != uint64(tt.n) || last != seq {
				t.Fatalf("Append returned %d, last sequence %d; want %d", seq, last, tt.n)
			}
		})
	}
}

func TestAppendRejectsInvalidEvents(t *testing.T) {
	e := openStore(t)
	ctx := ctxFor(t)
	valid := func() events.Envelope {
		return storetest.Event(t, storetest.NewAggregateID(), storetest.TokenCreated(), "")
	}
	resealed := func(mutate func(*events.Envelope)) []commands.Append {
		ev := valid()
		mutate(&ev)
		if err := ev.Seal(); err != nil {
			t.Fatal(err)
		}
		return []commands.Append{{Event: ev}}
	}
	tests := []struct {
		name  string
		batch []commands.Append
		want  string
	}{
		{"no events", nil, "no events"},
		{"aggregate id with a dot", resealed(func(e *events.Envelope) { e.AggregateID = "a.b" }), "not a valid subject token"},
		{"aggregate id with a wildcard", resealed(func(e *events.Envelope) { e.AggregateID = "*" }), "not a valid subject token"},
		{"aggregate id with a full wildcard", resealed(func(e *events.Envelope) { e.AggregateID = ">" }), "not a valid subject token"},
		{"aggregate id with a space", resealed(func(e *events.Envelope) { e.AggregateID = "a b" }), "not a valid subject token"},
		{"empty aggregate kind", resealed(func(e *events.Envelope) { e.AggregateKind = "" }), "empty aggregate kind"},
		{"unsealed event", func() []commands.Append { ev := valid(); ev.Hash = ""; return []commands.Append{{Event: ev}} }(), "not sealed"},
		{"event over the stream's 64 KiB limit", func() []commands.Append {
			p := storetest.TokenCreated()
			p.Name = strings.Repeat("n", jsstore.MaxMsgSize)
			return []commands.Append{{Event: storetest.Event(t, storetest.NewAggregateID(), p, "")}}
		}(), "maximum message size"},
		{"msg id twice in a batch", []commands.Append{{Event: valid(), MsgID: "same"}, {Event: valid(), MsgID: "same"}}, "appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.store.Append(ctx, tt.batch...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Append = %v, want an error naming %q", err, tt.want)
			}
			if errors.Is(err, commands.ErrConflict) || errors.Is(err, commands.ErrUnavailable) {
				t.Fatalf("Append = %v, an invalid event is neither a conflict nor unavailability", err)
			}
		})
	}
	if last, err := e.store.LastSequence(ctx); err != nil || last != 0 {
		t.Fatalf("LastSequence = %d, %v; invalid events must store nothing", last, err)
	}
}

func TestEveryWriteCarriesTheExpectation(t *testing.T) {
	e := openStore(t)
	ctx := ctxFor(t)
	a, b := storetest.NewAggregateID(), storetest.NewAggregateID()
	ea := storetest.Event(t, a, storetest.TokenCreated(), "")
	stored, err := e.store.Append(ctx, commands.Append{Event: ea, MsgID: "cmd-1"})
	if err != nil {
		t.Fatal(err)
	}
	seq := stored.Seq
	ea2 := storetest.Event(t, a, events.TokenRevoked{Reason: events.ReasonDeleted}, ea.Hash)
	eb := storetest.Event(t, b, storetest.TokenCreated(), "")
	eb2 := storetest.Event(t, b, events.TokenRevoked{Reason: events.ReasonDeleted}, eb.Hash)
	if _, err := e.store.Append(ctx,
		commands.Append{Event: ea2, Expected: seq, MsgID: "cmd-2/0"},
		commands.Append{Event: eb, MsgID: "cmd-2/1"},
		commands.Append{Event: eb2, MsgID: "cmd-2/2"},
	); err != nil {
		t.Fatal(err)
	}
	stream, err := e.js.Stream(ctx, "LEDGER")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		seq                   uint64
		msgID, expect, filter string // "" expect: no expectation (later event of the aggregate in a batch)
	}{
		{1, "cmd-1", "0", events.AggregateFilter(events.KindToken, a)},
		{2, "cmd-2/0", "1", events.AggregateFilter(events.KindToken, a)},
		{3, "cmd-2/1", "0", events.AggregateFilter(events.KindToken, b)},
		{4, "cmd-2/2", "", ""},
	}
	for _, tt := range tests {
		m, err := stream.GetMsg(ctx, tt.seq)
		if err != nil {
			t.Fatal(err)
		}
		h := m.Header
		got := []string{h.Get(jetstream.MsgIDHeader), h.Get(jetstream.ExpectedStreamHeader), h.Get(jetstream.ExpectedLastSubjSeqHeader), h.Get(jetstream.ExpectedLastSubjSeqSubjHeader)}
		want := []string{tt.msgID, "LEDGER", tt.expect, tt.filter}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("seq %d headers [msg id, stream, expected, filter] = %q, want %q", tt.seq, got, want)
		}
	}
}

func TestUndecodableEventStopsReads(t *testing.T) {
	e := openStore(t)
	ctx := ctxFor(t)
	id, _, _ := create(t, e.store)
	create(t, e.store)
	if _, err := e.js.Publish(ctx, "ledger.token."+id+".revoked", []byte("not an envelope")); err != nil {
		t.Fatal(err)
	}
	create(t, e.store)
	const want = "sequence 3"
	tests := []struct {
		name string
		read func(fn func(events.Envelope) error) error
	}{
		{"Replay", func(fn func(events.Envelope) error) error { return e.store.Replay(ctx, 1, 4, fn) }},
		{"Follow", func(fn func(events.Envelope) error) error { return e.store.Follow(ctx, 1, fn) }},
		{"Load", func(func(events.Envelope) error) error { _, err := e.store.Load(ctx, events.KindToken, id); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen []uint64
			err := tt.read(func(ev events.Envelope) error { seen = append(seen, ev.Sequence); return nil })
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("%s = %v, want an error naming %q", tt.name, err, want)
			}
			for _, s := range seen {
				if s >= 3 {
					t.Fatalf("%s delivered %v: nothing at or after the bad event may be delivered", tt.name, seen)
				}
			}
		})
	}
}

func TestFollowSurvivesConsumerDeletion(t *testing.T) {
	e := openStore(t)
	ctx, cancel := context.WithCancel(ctxFor(t))
	defer cancel()
	got := make(chan uint64, 100)
	done := make(chan error, 1)
	go func() {
		done <- e.store.Follow(ctx, 1, func(ev events.Envelope) error { got <- ev.Sequence; return nil })
	}()
	expect := func(from, to uint64) {
		t.Helper()
		for want := from; want <= to; want++ {
			select {
			case seq := <-got:
				if seq != want {
					t.Fatalf("Follow delivered %d, want %d", seq, want)
				}
			case err := <-done:
				t.Fatalf("Follow returned %v", err)
			case <-time.After(testTimeout):
				t.Fatalf("event %d not delivered", want)
			}
		}
	}
	create(t, e.store)
	create(t, e.store)
	expect(1, 2)

	stream, err := e.js.Stream(ctx, "LEDGER")
	if err != nil {
		t.Fatal(err)
	}
	var deleted int
	for name := range stream.ListConsumers(ctx).Info() {
		if err := stream.DeleteConsumer(ctx, name.Name); err != nil {
			t.Fatal(err)
		}
		deleted++
	}
	if deleted == 0 {
		t.Fatal("found no consumer to delete")
	}
	create(t, e.store)
	create(t, e.store)
	expect(3, 4)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow = %v, want context.Canceled", err)
	}
}

func TestReplayCleansUpItsConsumer(t *testing.T) {
	e := openStore(t)
	ctx := ctxFor(t)
	create(t, e.store)
	if err := e.store.Replay(ctx, 1, 1, func(events.Envelope) error { return nil }); err != nil {
		t.Fatal(err)
	}
	stream, err := e.js.Stream(ctx, "LEDGER")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		info, err := stream.Info(ctx)
		if err != nil {
			return err
		}
		if info.State.Consumers != 0 {
			return fmt.Errorf("%d consumers left", info.State.Consumers)
		}
		return nil
	})
}
