package jsstore

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/storetest"
)

// TestFollowDeliversAWantedEventWhileItsConsumerIsSilentlyLost: the node
// holding Follow's ordered consumer dies while the reader stays connected
// to another node, so nothing tells the reader (its heartbeats are made
// too rare here for the client library to notice within the test); an
// event appended afterwards that a reader wants (Want, as a command's
// read-your-writes wait does) is still delivered, read with Direct Get;
// the consumer, still silent after a later fill, is replaced, so an event
// nobody waits for arrives too.
func TestFollowDeliversAWantedEventWhileItsConsumerIsSilentlyLost(t *testing.T) {
	defer func(hb time.Duration) { followHeartbeat = hb }(followHeartbeat)
	followHeartbeat = 14 * time.Second // the most Consume takes (under half its 30 s pull expiry): noticed after 28 s
	c := natstest.StartCluster(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const reader = 0
	nc := natstest.Connect(t, c.Server(reader))
	st, err := Open(ctx, nc, Config{Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	appendOne := func() uint64 {
		t.Helper()
		e := storetest.Event(t, storetest.NewAggregateID(), storetest.TokenCreated(), "")
		actx, acancel := context.WithTimeout(ctx, 30*time.Second)
		defer acancel()
		stored, err := st.Append(actx, commands.Append{Event: e, MsgID: storetest.NewEventID()})
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		return stored.Seq
	}
	first := appendOne()

	// Follow until its consumer lives on a node other than the reader's
	// (placement is random among the stream's peers; bounded tries).
	got := make(chan uint64, 16)
	var stop context.CancelFunc
	var ended chan error
	holder := -1
	for try := 0; holder < 0 && try < 20; try++ {
		fctx, fcancel := context.WithCancel(ctx)
		end := make(chan error, 1)
		go func() {
			end <- st.Follow(fctx, 1, func(env events.Envelope) error { got <- env.Sequence; return nil })
		}()
		select {
		case s := <-got:
			if s != first {
				t.Fatalf("Follow delivered %d first; want %d", s, first)
			}
		case err := <-end:
			t.Fatalf("Follow ended: %v", err)
		case <-ctx.Done():
			t.Fatal("Follow delivered nothing")
		}
		if h := consumerNode(ctx, t, st, c); h != reader {
			holder, stop, ended = h, fcancel, end
			break
		}
		fcancel()
		<-end
	}
	if holder < 0 {
		t.Fatal("every ordered consumer was placed on the reader's node")
	}
	defer func() { stop(); <-ended }()

	// expect waits for the next delivery, which must be want, for less
	// than the client library takes to notice the loss.
	expect := func(want uint64, what string) {
		t.Helper()
		select {
		case s := <-got:
			if s != want {
				t.Fatalf("Follow delivered %d; want %d", s, want)
			}
		case err := <-ended:
			t.Fatalf("Follow ended: %v", err)
		case <-time.After(20 * time.Second):
			t.Fatalf("sequence %d, %s, not delivered within 20 s while the consumer's node is down", want, what)
		}
	}
	c.Stop(holder)
	seq := appendOne()
	st.Want(seq)
	expect(seq, "wanted")
	time.Sleep(replaceAfter) // the consumer stays silent that long after a fill
	next := appendOne()
	st.Want(next)
	expect(next, "wanted")
	// That fill replaced the silent consumer: an event nobody waits for
	// arrives too.
	expect(appendOne(), "not wanted (the silent consumer was not replaced)")
}

// consumerNode is the index of the node holding the stream's one
// consumer (Follow's), waiting (bounded) until there is exactly one.
func consumerNode(ctx context.Context, t *testing.T, st *Store, c *natstest.Cluster) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var infos []*jetstream.ConsumerInfo
		l := st.stream.ListConsumers(ctx)
		for ci := range l.Info() {
			infos = append(infos, ci)
		}
		if len(infos) == 1 && infos[0].Cluster != nil && infos[0].Cluster.Leader != "" {
			for i := range c.Size() {
				if c.Name(i) == infos[0].Cluster.Leader {
					return i
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no single consumer with a leader on the stream")
	return -1
}
