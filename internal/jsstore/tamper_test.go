package jsstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
)

// storedLedger appends n events to a store on a server keeping its data in
// a fresh dir, stops the server, lets tamper change the files, and opens
// the store again on a new server on the same dir.
func storedLedger(t *testing.T, n int, tamper func(dir string, ids []string)) *jsstore.Store {
	return storedLedgerWith(t, n, jsstore.Config{StallCheck: 20 * time.Millisecond}, tamper)
}

// storedLedgerWith is storedLedger opening the tampered store with cfg.
func storedLedgerWith(t *testing.T, n int, cfg jsstore.Config, tamper func(dir string, ids []string)) *jsstore.Store {
	t.Helper()
	dir := t.TempDir()
	srv := natstest.RunServerAt(t, dir)
	nc := natstest.Connect(t, srv)
	st, err := jsstore.Open(ctxFor(t), nc, jsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	for i := range ids {
		_, e, _ := create(t, st)
		ids[i] = e.ID
	}
	_ = st.Close()
	nc.Close()
	stopServer(srv)
	tamper(dir, ids)
	srv = natstest.RunServerAt(t, dir)
	return mustOpen(t, natstest.Connect(t, srv), cfg)
}

func stopServer(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}

// A byte flipped in a stored record makes nats-server drop the record
// (its checksum fails) while the stream's state still counts it. Replay
// and Follow must stop at that sequence with a TamperError, never skip it
// (a revoked token would validate again) and never wait for it (a damaged
// newest record left the service STARTING forever).
func TestReadersStopAtDamagedRecord(t *testing.T) {
	tests := []struct {
		name     string
		damaged  int // 0-based event index: sequence damaged+1
		wantKind string
	}{
		{"middle_record_is_a_gap", 2, events.TamperGap},
		{"newest_record_is_reported_not_awaited", 4, events.TamperUnreadable},
		{"first_record", 0, events.TamperGap},
	}
	reads := []struct {
		name string
		read func(ctx context.Context, st *jsstore.Store, fn func(events.Envelope) error) error
	}{
		{"follow", func(ctx context.Context, st *jsstore.Store, fn func(events.Envelope) error) error {
			return st.Follow(ctx, 1, fn)
		}},
		{"replay", func(ctx context.Context, st *jsstore.Store, fn func(events.Envelope) error) error {
			return st.Replay(ctx, 1, 1<<62, fn)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := storedLedger(t, 5, func(dir string, ids []string) {
				natstest.FlipStoredByte(t, dir, []byte(ids[tt.damaged]))
			})
			want := uint64(tt.damaged + 1)
			for _, r := range reads {
				t.Run(r.name, func(t *testing.T) {
					var got []uint64
					err := r.read(ctxFor(t), st, func(e events.Envelope) error {
						got = append(got, e.Sequence)
						return nil
					})
					te := events.AsTamper(err)
					if te == nil {
						t.Fatalf("read ended with %v, want a TamperError (delivered %v)", err, got)
					}
					if te.Seq != want || te.Kind != tt.wantKind {
						t.Fatalf("TamperError at %d (%s), want %d (%s): %v", te.Seq, te.Kind, want, tt.wantKind, err)
					}
					for i, seq := range got {
						if seq >= want {
							t.Fatalf("delivered sequence %d at or after the damaged %d: %v", seq, want, got)
						}
						if seq != uint64(i+1) {
							t.Fatalf("delivered %v, want every sequence before the damaged %d, in order", got, want)
						}
					}
					// Decoded ahead of fn, the events before the damaged
					// one still all reach fn before the read ends.
					if uint64(len(got)) != want-1 {
						t.Fatalf("delivered %v before the damaged %d, want all %d before it", got, want, want-1)
					}
				})
			}
		})
	}
}

// An intact stream is read to its end without a false alarm, also while
// it waits idle for many stall checks.
func TestFollowIdleOnIntactStreamIsNoTamper(t *testing.T) {
	st := storedLedgerWith(t, 3, jsstore.Config{StallCheck: 5 * time.Millisecond}, func(string, []string) {})
	ctx, cancel := context.WithCancel(ctxFor(t))
	defer cancel()
	n := 0
	err := st.Follow(ctx, 1, func(events.Envelope) error {
		if n++; n == 3 {
			time.AfterFunc(200*time.Millisecond, cancel) // idle for ~40 stall checks
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n != 3 {
		t.Fatalf("Follow = %v after %d events, want it cancelled after 3", err, n)
	}
}
