package jsstore_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/storetest"
)

// A stream update that adds a source (here with a subject transform into
// ledger.>) lets messages published to another stream land in LEDGER as
// events, with no expectation header and not written by the ledger. The
// store must fail closed, as it does for a mirror or a subject transform.
func TestFailClosed_SourceAddedToLedger(t *testing.T) {
	e := openStore(t)
	ctx := ctxFor(t)
	id, first, seq := create(t, e.store)

	if _, err := e.js.CreateStream(ctx, jetstream.StreamConfig{Name: "FORGE", Subjects: []string{"forge.>"}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	if err := update(ctx, e.js, func(c *jetstream.StreamConfig) {
		c.Sources = []*jetstream.StreamSource{{
			Name:              "FORGE",
			SubjectTransforms: []jetstream.SubjectTransformConfig{{Source: "forge.>", Destination: "ledger.>"}},
		}}
	}); err != nil {
		t.Fatalf("add a source: %v", err)
	}

	// A forged second event for the aggregate, published to FORGE without
	// any expectation, ends up in LEDGER.
	forged := storetest.Event(t, id, events.TokenRevoked{Reason: events.ReasonCompromised}, first.Hash)
	data, err := events.Marshal(&forged)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.js.Publish(ctx, fmt.Sprintf("forge.token.%s.revoked", id), data); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		evs, err := e.store.Load(ctx, "token", id)
		if err != nil {
			return err
		}
		if len(evs) != 2 {
			return fmt.Errorf("%d events, waiting for the sourced one", len(evs))
		}
		return nil
	})

	// Give the update advisory and its re-check time to settle.
	eventually(t, 10*time.Second, func() error {
		if h := e.store.Health(); h == nil {
			return fmt.Errorf("store still healthy (waiting for it to fail closed)")
		}
		return nil
	})
	next := commands.Append{Event: storetest.Event(t, id, events.TokenRevoked{Reason: events.ReasonRotated}, first.Hash), Expected: seq + 1, MsgID: storetest.NewEventID()}
	if _, err := e.store.Append(ctx, next); err == nil {
		t.Fatal("Append accepted on a stream that sources foreign messages into ledger.>")
	}
}

// runAt starts a real JetStream server on dir and a fixed port, like
// natstest.RunServerAt, so that a client can reconnect to its successor.
func runAt(t *testing.T, dir string, port int) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{ServerName: "natstest", Host: "127.0.0.1", Port: port,
		NoLog: true, NoSigs: true, JetStream: true, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	return s
}

// A configuration change made while the store's connection is down sends
// its advisory to nobody. The store reconnects and goes on accepting
// appends on the now unsafe stream until the next periodic re-check (one
// minute by default) instead of re-checking at once on reconnect.
func TestFailClosed_ReconnectRechecksConfig(t *testing.T) {
	dir := t.TempDir()
	first := natstest.RunServerAt(t, dir)
	port := first.Addr().(*net.TCPAddr).Port
	nc, err := nats.Connect(first.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx := ctxFor(t)
	st := mustOpen(t, nc, jsstore.Config{Recheck: time.Hour})
	id, first0, seq := create(t, st)

	first.Shutdown()
	first.WaitForShutdown()
	second := runAt(t, dir, port)
	admin := natstest.Connect(t, second)
	if err := update(ctx, newJS(t, admin), func(c *jetstream.StreamConfig) { c.MaxAge = time.Hour }); err != nil {
		t.Fatalf("unsafe update while the store is disconnected: %v", err)
	}
	eventually(t, 15*time.Second, func() error {
		if !nc.IsConnected() {
			return fmt.Errorf("store connection not back yet")
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond) // room for a re-check on reconnect, if there were one
	next := commands.Append{Event: storetest.Event(t, id, events.TokenRevoked{Reason: events.ReasonRotated}, first0.Hash), Expected: seq, MsgID: storetest.NewEventID()}
	if got, err := st.Append(ctx, next); err == nil {
		t.Fatalf("Append stored seq %d on a stream with max_age 1h; Health = %v", got.Seq, st.Health())
	}
}

var _ = context.Background

// After Follow recreated its ordered consumer (the first one deleted) and
// returned, no consumer of it may be left on the server.
func TestFollow_LeavesNoConsumerAfterReset(t *testing.T) {
	e := openStore(t)
	ctx, cancel := context.WithCancel(ctxFor(t))
	defer cancel()
	got := make(chan uint64, 100)
	done := make(chan error, 1)
	go func() {
		done <- e.store.Follow(ctx, 1, func(ev events.Envelope) error { got <- ev.Sequence; return nil })
	}()
	wait := func(n int) {
		for range n {
			select {
			case <-got:
			case <-time.After(testTimeout):
				t.Fatal("event not delivered")
			}
		}
	}
	create(t, e.store)
	wait(1)
	stream, err := e.js.Stream(ctx, "LEDGER")
	if err != nil {
		t.Fatal(err)
	}
	for name := range stream.ListConsumers(ctx).Info() {
		_ = stream.DeleteConsumer(ctx, name.Name)
	}
	create(t, e.store)
	wait(1)
	cancel()
	<-done
	eventually(t, 5*time.Second, func() error {
		n := 0
		for range stream.ListConsumers(ctxFor(t)).Info() {
			n++
		}
		if n != 0 {
			return fmt.Errorf("%d consumers left", n)
		}
		return nil
	})
}
