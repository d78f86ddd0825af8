package jsstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
)

// A replay decodes (and prepares) the next events on a goroutine of its
// own while fn applies the ones before, so that a second CPU works: fn,
// blocked on the first event, sees the third prepared meanwhile; what
// prepare attaches reaches fn; every event comes once, in order.
func TestReadsDecodeAheadOfTheApply(t *testing.T) {
	reads := []struct {
		name string
		read func(ctx context.Context, st *jsstore.Store, prepare func(*events.Envelope), fn func(events.Envelope) error) error
	}{
		{"replay", func(ctx context.Context, st *jsstore.Store, prepare func(*events.Envelope), fn func(events.Envelope) error) error {
			return st.ReplayPrepared(ctx, 1, 1<<62, prepare, fn)
		}},
		{"follow", func(ctx context.Context, st *jsstore.Store, prepare func(*events.Envelope), fn func(events.Envelope) error) error {
			return st.FollowPrepared(ctx, 1, prepare, fn)
		}},
	}
	e := openStore(t)
	const n = 5
	for range n {
		create(t, e.store)
	}
	errEnough := errors.New("read enough")
	for _, r := range reads {
		t.Run(r.name, func(t *testing.T) {
			ctx := ctxFor(t)
			preparedThird := make(chan struct{})
			prepare := func(env *events.Envelope) {
				env.SetRecordHash([32]byte{byte(env.Sequence)})
				if env.Sequence == 3 {
					close(preparedThird)
				}
			}
			var got []uint64
			err := r.read(ctx, e.store, prepare, func(env events.Envelope) error {
				if env.Sequence == 1 {
					select {
					case <-preparedThird:
					case <-ctx.Done():
						t.Errorf("the third event was not decoded while the first was applied")
					}
				}
				if h, ok := env.RecordHash(); !ok || h[0] != byte(env.Sequence) {
					t.Errorf("event %d reached fn without what prepare attached", env.Sequence)
				}
				got = append(got, env.Sequence)
				if len(got) == n {
					return errEnough
				}
				return nil
			})
			if !errors.Is(err, errEnough) {
				t.Fatalf("read ended with %v after %v", err, got)
			}
			for i, seq := range got {
				if seq != uint64(i+1) {
					t.Fatalf("delivered %v, want 1 to %d in order", got, n)
				}
			}
		})
	}
}

// An error from fn ends the read with that error while later events were
// already decoded: fn is not called again, also not after the read
// returned.
func TestReadStopsAtTheFirstApplyErrorWithEventsQueued(t *testing.T) {
	e := openStore(t)
	for range 20 {
		create(t, e.store)
	}
	errStop := errors.New("refused")
	calls := 0
	err := e.store.Replay(ctxFor(t), 1, 1<<62, func(env events.Envelope) error {
		calls++
		if env.Sequence == 2 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("Replay = %v, want the apply error", err)
	}
	if calls != 2 {
		t.Fatalf("fn called %d times, want 2 (nothing after the error)", calls)
	}
}
