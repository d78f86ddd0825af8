package jsstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
)

// A stream the ledger did not create (an external cluster) may allow
// records far larger than the ledger's MaxMsgSize: CheckConfig does not
// look at max_msg_size, and a data dir can hold what an earlier config
// let in. Someone who can publish on ledger.> there stores one record
// larger than the ordered consumer's byte window. No pull can ever carry
// it: nats-server answers each one "409 Message Size Exceeds MaxBytes" and
// the client library asks again at once. Replay and Follow must stop at
// that sequence with a TamperError naming it, as for any record a
// consumer does not deliver, not spin on pull requests until their
// context ends (the start never finished, without a word in the log).
func TestReadersStopAtRecordLargerThanThePullWindow(t *testing.T) {
	tests := []struct {
		name string
		size int // of the planted record's data (garbage to the ledger)
	}{
		// More than half the window: a refill may be smaller than it,
		// the 409 that ends that pull makes the next one whole.
		{"over_half_the_window_is_read", 3 << 19},
		{"over_the_window_is_named_not_awaited", 3 << 20},
	}
	reads := []struct {
		name string
		read func(ctx context.Context, st *jsstore.Store, fn func(events.Envelope) error) error
	}{
		{"replay", func(ctx context.Context, st *jsstore.Store, fn func(events.Envelope) error) error {
			return st.Replay(ctx, 1, 1<<62, fn)
		}},
		{"follow", func(ctx context.Context, st *jsstore.Store, fn func(events.Envelope) error) error {
			return st.Follow(ctx, 1, fn)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := natstest.RunServerWith(t, t.TempDir(), func(o *server.Options) { o.MaxPayload = 8 << 20 })
			nc := natstest.Connect(t, srv)
			js := newJS(t, nc)
			sc := jsstore.StreamConfig(jsstore.Config{})
			sc.MaxMsgSize = -1 // the external cluster's operator's choice
			if _, err := js.CreateStream(ctxFor(t), sc); err != nil {
				t.Fatal(err)
			}
			st := mustOpen(t, nc, jsstore.Config{StallCheck: 20 * time.Millisecond})
			for range 3 {
				create(t, st)
			}
			big := make([]byte, tt.size)
			for i := range big {
				big[i] = 'x'
			}
			ack, err := js.Publish(ctxFor(t), "ledger.token.planted.token.created", big)
			if err != nil {
				t.Fatalf("publish the oversized record: %v", err)
			}
			create(t, st) // a genuine event after it
			for _, r := range reads {
				t.Run(r.name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(ctxFor(t), 10*time.Second)
					defer cancel()
					var got []uint64
					start := time.Now()
					err := r.read(ctx, st, func(e events.Envelope) error {
						got = append(got, e.Sequence)
						return nil
					})
					te := events.AsTamper(err)
					if te == nil {
						t.Fatalf("read ended after %s with %v, want a TamperError at the oversized sequence %d (delivered %v)",
							time.Since(start).Round(time.Millisecond), err, ack.Sequence, got)
					}
					if te.Seq != ack.Sequence {
						t.Fatalf("TamperError at %d (%s), want %d: %v", te.Seq, te.Kind, ack.Sequence, err)
					}
					if uint64(len(got)) != ack.Sequence-1 {
						t.Fatalf("delivered %v, want every sequence before %d", got, ack.Sequence)
					}
				})
			}
		})
	}
}
