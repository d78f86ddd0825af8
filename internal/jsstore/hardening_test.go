package jsstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/storetest"
)

func appendNew(ctx context.Context, t *testing.T, st *jsstore.Store) error {
	_, err := st.Append(ctx, commands.Append{Event: storetest.Event(t, storetest.NewAggregateID(), storetest.TokenCreated(), ""),
		MsgID: storetest.NewEventID()})
	return err
}

// The attack: a push consumer whose idle heartbeats go to the
// stream's delete advisory subject. The store treats the advisory as a
// hint, finds the stream alive and keeps accepting appends.
func TestForgedDeleteAdvisoryDoesNotLatch(t *testing.T) {
	e := openStore(t)
	ctx := ctxFor(t)
	create(t, e.store)
	advisory := "$JS.EVENT.ADVISORY.STREAM.DELETED.LEDGER"
	seen, err := e.nc.SubscribeSync(advisory)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.js.CreateOrUpdateConsumer(ctx, "LEDGER", jetstream.ConsumerConfig{Durable: "evil",
		DeliverSubject: advisory, IdleHeartbeat: 100 * time.Millisecond, FlowControl: true}); err != nil {
		t.Fatal(err)
	}
	// Also a plain forged advisory.
	if err := e.nc.Publish(advisory, []byte(`{"type":"io.nats.jetstream.advisory.v1.stream_action","stream":"LEDGER","action":"delete"}`)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ { // the store has had forged advisories to react to
		if _, err := seen.NextMsg(10 * time.Second); err != nil {
			t.Fatalf("no message on the advisory subject: %v", err)
		}
	}
	eventually(t, 10*time.Second, func() error {
		if h := e.store.Health(); h != nil {
			return h
		}
		return appendNew(ctx, t, e.store)
	})
}

// A configuration that stops being audit-grade latches; once fixed (same
// stream, nothing lost) the store accepts appends again.
func TestConfigViolationLatchClearsWhenFixed(t *testing.T) {
	e := openStore(t)
	ctx := ctxFor(t)
	create(t, e.store)
	if err := update(ctx, e.js, func(c *jetstream.StreamConfig) { c.MaxAge = time.Hour }); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if h := e.store.Health(); h == nil || !strings.Contains(h.Error(), "max_age") {
			return fmt.Errorf("Health = %v, want the max_age violation", h)
		}
		return nil
	})
	if err := appendNew(ctx, t, e.store); !errors.Is(err, commands.ErrUnavailable) {
		t.Fatalf("Append on the violating stream = %v, want ErrUnavailable", err)
	}
	if err := update(ctx, e.js, func(c *jetstream.StreamConfig) { c.MaxAge = 0 }); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if h := e.store.Health(); h != nil {
			return h
		}
		return appendNew(ctx, t, e.store)
	})
}

// Violations whose damage a fix does not undo stay latched: a source let
// foreign messages in; a deleted message is gone.
func TestLatchStaysWhenTheFixCannotUndoTheDamage(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(ctx context.Context, t *testing.T, e *env)
		fix    func(c *jetstream.StreamConfig)
		want   string
	}{
		{"source added and removed", func(ctx context.Context, t *testing.T, e *env) {
			if _, err := e.js.CreateStream(ctx, jetstream.StreamConfig{Name: "FORGE", Subjects: []string{"forge.>"}, Storage: jetstream.MemoryStorage}); err != nil {
				t.Fatal(err)
			}
			if err := update(ctx, e.js, func(c *jetstream.StreamConfig) {
				c.Sources = []*jetstream.StreamSource{{Name: "FORGE"}}
			}); err != nil {
				t.Fatal(err)
			}
		}, func(c *jetstream.StreamConfig) { c.Sources = nil }, "sources"},
		{"old events dropped by a limit, limit removed", func(ctx context.Context, t *testing.T, e *env) {
			if err := update(ctx, e.js, func(c *jetstream.StreamConfig) { c.MaxMsgs = 1; c.Discard = jetstream.DiscardOld }); err != nil {
				t.Fatal(err)
			}
		}, func(c *jetstream.StreamConfig) { c.MaxMsgs = -1; c.Discard = jetstream.DiscardNew }, "lost events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := openStore(t)
			ctx := ctxFor(t)
			create(t, e.store)
			create(t, e.store)
			tt.break_(ctx, t, e)
			eventually(t, 10*time.Second, func() error {
				if e.store.Health() == nil {
					return errors.New("still healthy")
				}
				return nil
			})
			if err := update(ctx, e.js, tt.fix); err != nil {
				t.Fatal(err)
			}
			eventually(t, 10*time.Second, func() error {
				if h := e.store.Health(); h == nil || !strings.Contains(h.Error(), tt.want) {
					return fmt.Errorf("Health = %v, want it to name %q", h, tt.want)
				}
				return nil
			})
		})
	}
}

// A consumer planted on the stream before the ledger starts, delivering
// onto a subject the ledger listens to, is removed with an ERROR log
// line naming it; on the ledger's own server every durable or foreign
// push consumer goes, elsewhere other consumers stay.
func TestOpenRemovesForeignConsumers(t *testing.T) {
	tests := []struct {
		name      string
		owns      bool
		cfg       jetstream.ConsumerConfig
		wantGone  bool
		wantInLog string
	}{
		{"push onto the delete advisory", false, jetstream.ConsumerConfig{Durable: "evil",
			DeliverSubject: "$JS.EVENT.ADVISORY.STREAM.DELETED.LEDGER", IdleHeartbeat: time.Second}, true, "evil"},
		{"push onto the API", false, jetstream.ConsumerConfig{Durable: "api",
			DeliverSubject: "$JS.API.STREAM.DELETE.LEDGER", IdleHeartbeat: time.Second}, true, "api"},
		{"push onto the ledger's inbox", false, jetstream.ConsumerConfig{Durable: "inbox",
			DeliverSubject: "_INBOX.abc", IdleHeartbeat: time.Second}, true, "inbox"},
		{"push onto an operator's subject, external server", false, jetstream.ConsumerConfig{Durable: "ops",
			DeliverSubject: "ops.audit.copy"}, false, ""},
		{"durable pull, external server", false, jetstream.ConsumerConfig{Durable: "etl"}, false, ""},
		{"push onto another subject, embedded server", true, jetstream.ConsumerConfig{Durable: "ops",
			DeliverSubject: "ops.audit.copy"}, true, "ops"},
		{"durable pull, embedded server", true, jetstream.ConsumerConfig{Durable: "filler"}, true, "filler"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := natstest.RunServer(t)
			nc := natstest.Connect(t, srv)
			js := newJS(t, nc)
			ctx := ctxFor(t)
			st, err := js.CreateStream(ctx, jsstore.StreamConfig(jsstore.Config{}))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.CreateOrUpdateConsumer(ctx, tt.cfg); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			store, err := jsstore.Open(ctx, nc, jsstore.Config{OwnsServer: tt.owns, Log: slog.New(slog.NewJSONHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			_, err = st.Consumer(ctx, tt.cfg.Durable)
			if gone := errors.Is(err, jetstream.ErrConsumerNotFound); gone != tt.wantGone {
				t.Fatalf("consumer gone = %v (%v), want %v; log: %s", gone, err, tt.wantGone, logs.String())
			}
			if tt.wantGone && (!strings.Contains(logs.String(), `"level":"ERROR"`) || !strings.Contains(logs.String(), tt.wantInLog)) {
				t.Fatalf("removal not logged at ERROR naming %q: %s", tt.wantInLog, logs.String())
			}
			if err := appendNew(ctx, t, store); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// On a server where the ledger's user lacks a permission it needs, Open
// refuses at once and names the missing permission.
func TestOpenNamesMissingPermissions(t *testing.T) {
	full := func() *server.Permissions {
		return &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: []string{"ledger.>", "$JS.API.>"}},
			Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>", "$JS.EVENT.ADVISORY.>"}},
		}
	}
	tests := []struct {
		name   string
		change func(p *server.Permissions)
		want   string
	}{
		{"everything it needs", func(*server.Permissions) {}, ""},
		{"no publish to ledger.>", func(p *server.Permissions) { p.Publish.Allow = []string{"$JS.API.>"} }, "publish ledger.>"},
		{"no JetStream API", func(p *server.Permissions) { p.Publish.Allow = []string{"ledger.>"} }, "publish $JS.API.STREAM.INFO.LEDGER"},
		{"no consumers", func(p *server.Permissions) { p.Publish.Deny = []string{"$JS.API.CONSUMER.>"} }, "publish $JS.API.CONSUMER.CREATE.LEDGER.>"},
		{"no Direct Get by subject", func(p *server.Permissions) { p.Publish.Deny = []string{"$JS.API.DIRECT.GET.LEDGER.>"} },
			"publish $JS.API.DIRECT.GET.LEDGER.>"},
		{"no advisories", func(p *server.Permissions) { p.Subscribe.Allow = []string{"_INBOX.>"} }, "subscribe $JS.EVENT.ADVISORY.STREAM.DELETED.LEDGER"},
		{"no inbox", func(p *server.Permissions) { p.Subscribe.Allow = []string{"$JS.EVENT.ADVISORY.>"} }, "subscribe _INBOX.>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			perms := full()
			tt.change(perms)
			srv := natstest.RunServerWith(t, t.TempDir(), func(o *server.Options) {
				o.Users = []*server.User{{Username: "ledger", Password: "pw", Permissions: perms}}
			})
			nc := natstest.Connect(t, srv, nats.UserInfo("ledger", "pw"), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
			st, err := jsstore.Open(ctxFor(t), nc, jsstore.Config{})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				st.Close()
				return
			}
			var pe *jsstore.PermissionError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open = %v, want a PermissionError naming %q", err, tt.want)
			}
		})
	}
}

// Start-up failures come back at once with the server's own reason.
func TestStartEmbeddedReportsTheRealCause(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  jsstore.EmbeddedConfig
		want string
	}{
		{"taken port", jsstore.EmbeddedConfig{DataDir: t.TempDir(), Listen: taken.Addr().String(), OwnerPassword: "o", FeedPassword: "f"},
			"listening on port"},
		{"data dir is a file", jsstore.EmbeddedConfig{DataDir: file}, "not-a-dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			tt.cfg.Log = slog.New(slog.NewJSONHandler(&logs, nil))
			srv, err := jsstore.StartEmbedded(ctxFor(t), tt.cfg)
			if err == nil {
				srv.Shutdown()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("StartEmbedded = %v, want the cause %q", err, tt.want)
			}
			if !strings.Contains(logs.String(), "nats-server") || !strings.Contains(logs.String(), `"level":"ERROR"`) {
				t.Errorf("the server's own log did not reach the logger: %s", logs.String())
			}
		})
	}
}

// A start-up that is cancelled (SIGTERM) stops at once.
func TestStartEmbeddedHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	srv, err := jsstore.StartEmbedded(ctx, jsstore.EmbeddedConfig{DataDir: t.TempDir()})
	if err == nil {
		srv.Shutdown()
		t.Fatal("started although cancelled")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("StartEmbedded = %v, want context.Canceled", err)
	}
}

// A data dir written before the two-account layout (the stream in the
// global account) keeps its history: the ledger finds every event.
func TestEmbeddedKeepsHistoryOfTheSingleAccountLayout(t *testing.T) {
	dir := t.TempDir()
	old, err := jsstore.StartEmbedded(ctxFor(t), jsstore.EmbeddedConfig{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect("", nats.InProcessServer(old))
	if err != nil {
		t.Fatal(err)
	}
	st := mustOpen(t, nc, jsstore.Config{})
	create(t, st)
	_, _, last := create(t, st)
	st.Close()
	nc.Close()
	old.Shutdown()
	old.WaitForShutdown()

	srv, err := jsstore.StartEmbedded(ctxFor(t), jsstore.EmbeddedConfig{DataDir: dir, OwnerPassword: "o", FeedPassword: "f"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	owner, err := nats.Connect("", nats.InProcessServer(srv), nats.UserInfo(jsstore.OwnerUser, "o"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(owner.Close)
	st2 := mustOpen(t, owner, jsstore.Config{OwnsServer: true})
	if seq, err := st2.LastSequence(ctxFor(t)); err != nil || seq != last {
		t.Fatalf("after the move the stream ends at %d (%v), want %d", seq, err, last)
	}
}

// countingLogger counts the server's log lines about failed sign-ins.
type countingLogger struct {
	mu    sync.Mutex
	lines int
}

func (c *countingLogger) Log(_ context.Context, _ slog.Level, msg string, _ ...any) {
	if strings.Contains(msg, "cid:") {
		c.mu.Lock()
		c.lines++
		c.mu.Unlock()
	}
}

// Failed sign-ins (any local process can make them) do not fill the
// service's log: lines about client connections are rate-limited.
func TestFailedSignInsDoNotFloodTheLog(t *testing.T) {
	logs := &countingLogger{}
	e := startFeedServer(t, func(c *jsstore.EmbeddedConfig) { c.Log = logs })
	const attempts = 60 // bounded
	for i := 0; i < attempts; i++ {
		if nc, err := nats.Connect(e.url, nats.UserInfo("mallory", "guess"), nats.NoReconnect()); err == nil {
			nc.Close()
			t.Fatal("a wrong password was accepted")
		}
	}
	create(t, e.store)
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if logs.lines == 0 || logs.lines >= attempts {
		t.Fatalf("%d client log lines for %d failed sign-ins, want some but fewer", logs.lines, attempts)
	}
}
