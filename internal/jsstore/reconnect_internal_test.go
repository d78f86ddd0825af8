package jsstore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/storetest"
)

// TestRequestInFlightAcrossAReconnectIsSentAgainAtOnce: a command's load
// or append is in flight on a connection that goes silent (a proxy holds
// its bytes), and the connection is re-established elsewhere, as when the
// node a replica is connected to dies. The request can never be
// answered; it is sent again over the new connection at once (an append
// with the same msg id), not after the attempt's timeout (made an hour
// here).
func TestRequestInFlightAcrossAReconnectIsSentAgainAtOnce(t *testing.T) {
	defer func(r, a time.Duration) { readAttemptTimeout, transientAttemptTimeout = r, a }(readAttemptTimeout, transientAttemptTimeout)
	readAttemptTimeout, transientAttemptTimeout = time.Hour, time.Hour
	for _, tc := range []struct {
		name string
		do   func(ctx context.Context, st *Store, e events.Envelope) error
	}{
		{"load", func(ctx context.Context, st *Store, e events.Envelope) error {
			evs, err := st.Load(ctx, e.AggregateKind, e.AggregateID)
			if err == nil && len(evs) != 1 {
				err = fmt.Errorf("%d events, want 1", len(evs))
			}
			return err
		}},
		{"append", func(ctx context.Context, st *Store, _ events.Envelope) error {
			e := storetest.Event(t, storetest.NewAggregateID(), storetest.TokenCreated(), "")
			stored, err := st.Append(ctx, commands.Append{Event: e, MsgID: storetest.NewEventID()})
			if err == nil && stored.Seq != 2 {
				err = fmt.Errorf("stored at %d, want 2", stored.Seq)
			}
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := natstest.RunServer(t)
			proxy := natstest.StartProxy(t, strings.TrimPrefix(s.ClientURL(), "nats://"))
			// The proxy first; on a reconnect the client goes to the next URL.
			nc, err := nats.Connect(proxy.URL()+","+s.ClientURL(), nats.DontRandomize(), nats.MaxReconnects(-1),
				nats.ReconnectWait(10*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			st, err := Open(ctx, nc, Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			e := storetest.Event(t, storetest.NewAggregateID(), storetest.TokenCreated(), "")
			if _, err := st.Append(ctx, commands.Append{Event: e, MsgID: storetest.NewEventID()}); err != nil {
				t.Fatal(err)
			}

			proxy.Blackhole()
			done := make(chan error, 1)
			go func() { done <- tc.do(ctx, st, e) }()
			time.Sleep(300 * time.Millisecond) // the request goes into the hole
			if err := nc.ForceReconnect(); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%s after the reconnect: %v", tc.name, err)
				}
				if nc.ConnectedUrl() != s.ClientURL() {
					t.Fatalf("connected to %s, not to the server behind the proxy's back", nc.ConnectedUrl())
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("a %s in flight when the connection was re-established was not sent again within 20 s", tc.name)
			}
		})
	}
}
