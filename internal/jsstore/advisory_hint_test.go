package jsstore_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
)

// An update advisory is a hint like the delete advisory: anyone able to
// publish on its subject (or to point a push consumer's heartbeats at it)
// could forge one. A forged one makes the store re-read the stream, which
// it finds unchanged; no append fails meanwhile.
func TestForgedUpdateAdvisoryDoesNotFailAppends(t *testing.T) {
	e := openStore(t)
	ctx := ctxFor(t)
	advisory := "$JS.EVENT.ADVISORY.STREAM.UPDATED.LEDGER"
	for i := 0; i < 200; i++ { // bounded
		if err := e.nc.Publish(advisory, []byte(`{"type":"io.nats.jetstream.advisory.v1.stream_action","stream":"LEDGER","action":"modify"}`)); err != nil {
			t.Fatal(err)
		}
		if err := e.nc.FlushWithContext(ctx); err != nil { // the advisory has reached the store's subscription
			t.Fatal(err)
		}
		if err := appendNew(ctx, t, e.store); err != nil {
			t.Fatalf("append %d after a forged update advisory: %v", i, err)
		}
	}
}

// On the embedded server only the ledger creates streams in its account:
// a stream planted there (whose consumers could heartbeat onto the
// ledger's advisories) is removed at Open, with an ERROR line naming it.
func TestOpenRemovesForeignStreamsOnTheEmbeddedServer(t *testing.T) {
	srv := natstest.RunServer(t)
	nc := natstest.Connect(t, srv)
	js := newJS(t, nc)
	ctx := ctxFor(t)
	evil, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EVIL", Subjects: []string{"evil.>"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := evil.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "evil",
		DeliverSubject: "$JS.EVENT.ADVISORY.STREAM.UPDATED.LEDGER", IdleHeartbeat: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	st := mustOpen(t, nc, jsstore.Config{OwnsServer: true, Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	if _, err := js.Stream(ctx, "EVIL"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("the planted stream survived Open: %v", err)
	}
	if !strings.Contains(logs.String(), `"level":"ERROR"`) || !strings.Contains(logs.String(), `"stream":"EVIL"`) {
		t.Fatalf("the removal is not logged at ERROR naming the stream: %s", logs.String())
	}
	if err := appendNew(context.Background(), t, st); err != nil {
		t.Fatal(err)
	}
}
