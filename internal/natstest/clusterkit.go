package natstest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// What [Cluster] and [ProcessCluster] share: client URLs, a reconnecting
// client, the wait for a current stream.

// loopbackURLs is the comma-separated client URLs of ports on 127.0.0.1,
// as --nats-url takes them.
func loopbackURLs(ports []int) string {
	urls := make([]string, len(ports))
	for i, p := range ports {
		urls[i] = fmt.Sprintf("nats://127.0.0.1:%d", p)
	}
	return strings.Join(urls, ",")
}

// connectCluster opens a client connection to any of urls, reconnecting
// to another without end; it is closed when the test ends.
func connectCluster(tb testing.TB, urls string, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	all := append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(100 * time.Millisecond)}, opts...)
	nc, err := nats.Connect(urls, all...)
	if err != nil {
		tb.Fatalf("natstest: connect to the cluster: %v", err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// waitStreamCurrent waits (bounded) until stream has a leader and every
// replica of it is current, as seen through nc, and returns the leader's
// index as leaderIndex tells it from the leader's name (-1: not yet).
func waitStreamCurrent(tb testing.TB, nc *nats.Conn, stream string, leaderIndex func(name string) int) int {
	tb.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	leader := -1
	err = waitUntil(clusterReadyTimeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st, err := js.Stream(ctx, stream)
		if err != nil {
			return err
		}
		ci := st.CachedInfo().Cluster
		if ci == nil || ci.Leader == "" {
			return errors.New("no stream leader")
		}
		for _, r := range ci.Replicas {
			if !r.Current || r.Offline {
				return fmt.Errorf("replica %s is not current", r.Name)
			}
		}
		if leader = leaderIndex(ci.Leader); leader < 0 {
			return fmt.Errorf("no running node is the stream's leader %s", ci.Leader)
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("natstest: stream %s not current: %v", stream, err)
	}
	return leader
}
