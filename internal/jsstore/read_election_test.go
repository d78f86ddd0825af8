package jsstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
)

// TestLoadRetriesWhileNoServerAnswersForTheStream: a read whose Direct Get
// finds no server answering for the stream (its only replica down, as
// while replicas elect a leader) is tried again, with back-off, until the
// request's deadline, and answers once the stream is back.
func TestLoadRetriesWhileNoServerAnswersForTheStream(t *testing.T) {
	c := natstest.StartCluster(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A one-replica stream: while its one node is down nobody answers.
	setup, _ := jetstream.New(c.Connect())
	if _, err := setup.CreateStream(ctx, jsstore.StreamConfig(jsstore.Config{Replicas: 1})); err != nil {
		t.Fatal(err)
	}
	holder := c.WaitStreamCurrent(c.Connect(), jsstore.DefaultStream)
	other := (holder + 1) % c.Size()
	nc := natstest.Connect(t, c.Server(other)) // stays connected while the holder is down
	st, err := jsstore.Open(ctx, nc, jsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id, _, _ := create(t, st)

	c.Stop(holder)
	back := make(chan struct{})
	go func() {
		defer close(back)
		time.Sleep(time.Second) // the read starts while nobody answers
		c.StartAgain(holder)
	}()
	lctx, lcancel := context.WithTimeout(ctx, 30*time.Second)
	defer lcancel()
	evs, err := st.Load(lctx, events.KindToken, id)
	<-back
	if err != nil || len(evs) != 1 {
		t.Fatalf("Load while the stream's node restarts: %d events, %v", len(evs), err)
	}
}
