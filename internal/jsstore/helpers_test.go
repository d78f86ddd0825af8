package jsstore_test

import (
	"context"
	"errors"
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

const testTimeout = 30 * time.Second

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// env is a test's server, connection and store.
type env struct {
	srv   *server.Server
	nc    *nats.Conn
	js    jetstream.JetStream
	store *jsstore.Store
}

// openStore starts a fresh server and opens the store on it.
func openStore(t *testing.T) *env { t.Helper(); return openStoreWith(t, jsstore.Config{}) }

// openStoreWith starts a fresh server and opens the store with cfg on it.
func openStoreWith(t *testing.T, cfg jsstore.Config) *env {
	t.Helper()
	e := &env{srv: natstest.RunServer(t)}
	e.nc = natstest.Connect(t, e.srv)
	e.js = newJS(t, e.nc)
	e.store = mustOpen(t, e.nc, cfg)
	return e
}

func newJS(t *testing.T, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func mustOpen(t *testing.T, nc *nats.Conn, cfg jsstore.Config) *jsstore.Store {
	t.Helper()
	st, err := jsstore.Open(ctxFor(t), nc, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// eventually polls cond until it returns nil or the deadline passes.
func eventually(t *testing.T, within time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", within, err)
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not an assertion
	}
}

// create appends a token.created for a new aggregate and returns its id,
// the event and its sequence.
func create(t *testing.T, st commands.EventStore) (string, events.Envelope, uint64) {
	t.Helper()
	id := storetest.NewAggregateID()
	e := storetest.Event(t, id, storetest.TokenCreated(), "")
	seq, err := st.Append(ctxFor(t), commands.Append{Event: e, MsgID: storetest.NewEventID()})
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return id, e, seq
}

func errIs(err, target error) error {
	if errors.Is(err, target) {
		return nil
	}
	return errors.New("got " + errString(err) + ", want " + target.Error())
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}
