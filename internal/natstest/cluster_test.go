package natstest_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tokenledger/tokenledger/internal/natstest"
)

// TestClusterSurvivesTheLossOfItsStreamLeader starts three nodes, stores
// on an R3 stream, stops the stream's leader, stores again once another
// node leads, restarts the stopped node and finds every message on it.
func TestClusterSurvivesTheLossOfItsStreamLeader(t *testing.T) {
	c := natstest.StartCluster(t, 3, nil)
	for i := range c.Size() {
		s := c.Server(i)
		if jc := s.JetStreamConfig(); jc == nil || !jc.SyncAlways {
			t.Fatalf("%s: JetStream config %+v, want sync always", c.Name(i), jc)
		}
		if u, _ := url.Parse(c.ClientURL(i)); u.Hostname() != "127.0.0.1" {
			t.Fatalf("%s listens on %s, want loopback", c.Name(i), u)
		}
	}
	nc := c.Connect()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Replicas: 3, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	leader := c.WaitStreamCurrent(nc, "S")
	publish := func(n int) {
		t.Helper()
		for i := range n {
			var err error
			for try := 0; try < 100; try++ { // an election takes seconds: bounded retries
				actx, acancel := context.WithTimeout(ctx, 2*time.Second) // an attempt sent to a lost leader is never answered
				_, err = js.Publish(actx, fmt.Sprintf("s.%d", i), []byte("x"), jetstream.WithMsgID(fmt.Sprintf("%d-%d", n, i)))
				acancel()
				if err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				t.Fatalf("publish: %v", err)
			}
		}
	}
	publish(5)
	c.Stop(leader)
	if now := c.StreamLeader("S"); now == leader {
		t.Fatalf("stopped node %s still leads", c.Name(leader))
	}
	publish(3)
	c.Restart(leader)
	c.WaitStreamCurrent(nc, "S")
	st, err := jetstream.New(natstest.Connect(t, c.Server(leader)))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := st.Stream(ctx, "S")
	if err != nil {
		t.Fatal(err)
	}
	if n := stream.CachedInfo().State.Msgs; n != 8 {
		t.Fatalf("stream holds %d messages, want 8", n)
	}
}
