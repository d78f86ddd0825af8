package jsstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
)

// A NATS cluster's operator may bound pull requests server-wide
// (jetstream { limits { max_request_batch: N } }): every pull consumer
// created without its own bound gets N, and nats-server refuses a pull
// asking for more messages with "409 Exceeded MaxRequestBatch". A pull
// window in bytes alone asks for 1,000,000 messages (nats.go's count for
// PullMaxBytes), so on such a cluster Replay and Follow were refused every
// pull and read nothing, for ever, where the ledger's reads worked before
// the byte window (4,096 messages a pull). They must read the stream
// whatever bound of at least a few thousand messages the cluster sets.
func TestReadersReadUnderTheClustersRequestBatchLimit(t *testing.T) {
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
	for _, limit := range []int{4096, 10_000, 100_000} {
		t.Run(fmtLimit(limit), func(t *testing.T) {
			srv := natstest.RunServerWith(t, t.TempDir(), func(o *server.Options) { o.JetStreamLimits.MaxRequestBatch = limit })
			st := mustOpen(t, natstest.Connect(t, srv), jsstore.Config{StallCheck: 20 * time.Millisecond})
			const n = 5
			for range n {
				create(t, st)
			}
			for _, r := range reads {
				t.Run(r.name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(ctxFor(t), 10*time.Second)
					defer cancel()
					var got []uint64
					err := r.read(ctx, st, func(e events.Envelope) error {
						got = append(got, e.Sequence)
						if len(got) == n {
							cancel() // Follow: all read
						}
						return nil
					})
					if len(got) != n {
						t.Fatalf("read ended with %v after delivering %v, want sequences 1 to %d", err, got, n)
					}
				})
			}
		})
	}
}

func fmtLimit(n int) string {
	return fmt.Sprintf("max_request_batch_%d", n)
}
