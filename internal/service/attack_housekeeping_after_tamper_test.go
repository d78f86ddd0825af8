package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// housekeepingWindow is how long the test watches the stream after the
// tamper stop: many periods of the expiry scheduler, the sweeper (50 ms
// each in servicetest) and the checkpointer (20 ms here).
const housekeepingWindow = 3 * time.Second

// Once the projections stopped at a forged event, the ledger must not go
// on signing history on top of it: its read model is frozen at the
// forgery, and every event it appends now (an expiry the scheduler saw
// in the frozen token set, a checkpoint) carries the ledger's signature
// over a stream it has just declared tampered with. Here a token's expiry
// passes after the stop; the stream must not grow.
func TestHousekeepingAppendsNothingAfterTheTamperStop(t *testing.T) {
	clock := servicetest.NewClock(time.Now())
	srv := natstest.RunServer(t)
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
		c.NATSURL = srv.ClientURL()
		c.Now = clock.Now
		c.CheckpointInterval = 20 * time.Millisecond
		c.CheckpointEvery = 1
	})
	secret, _ := s.CreateToken("client", "development")
	changeExpiry(t, s, secret, time.Hour)

	subject, data := forgeAdminToken(t, s, nil)
	js, err := jetstream.New(natstest.Connect(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	ack, err := js.Publish(context.Background(), subject, data)
	if err != nil {
		t.Fatal(err)
	}
	waitStopped(t, s)
	clock.Advance(2 * time.Hour) // the token's expiry passes

	deadline := time.Now().Add(housekeepingWindow)
	for time.Now().Before(deadline) {
		if last := s.LastSeq(); last > ack.Sequence {
			e := s.Events(ack.Sequence+1, last)
			t.Fatalf("after the tamper stop at %d the ledger appended %d event(s), the first %s (signed by key %q)",
				ack.Sequence, last-ack.Sequence, e[0].Type, e[0].Key)
		}
		time.Sleep(20 * time.Millisecond) // poll interval, not an assertion
	}
}
