package jsstore_test

import (
	"context"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
)

// The stream subject of a record is not covered by its event's hash,
// signature or Merkle leaf. A genuine event published again (through a
// second connection) under a subject other than its own files itself
// where the subject-filtered reads do not look for it: every reader of the
// store must refuse it at its sequence as an edited record, not deliver
// it.
func TestReadersRefuseAnEventStoredUnderAnotherSubject(t *testing.T) {
	for _, tt := range []struct {
		name    string
		subject func(env events.Envelope, other string) string
	}{
		{"another_token", func(env events.Envelope, other string) string {
			return events.Subject(events.KindToken, other, env.Type)
		}},
		{"outside_the_token_subjects", func(events.Envelope, string) string { return "ledger.log.moved.created" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := openStore(t)
			_, env, _ := create(t, e.store)
			other, _, _ := create(t, e.store)
			data, err := events.Marshal(&env)
			if err != nil {
				t.Fatal(err)
			}
			ack, err := e.js.Publish(ctxFor(t), tt.subject(env, other), data)
			if err != nil {
				t.Fatal(err)
			}
			reads := []struct {
				name string
				read func(ctx context.Context, st *jsstore.Store, fn func(events.Envelope) error) error
			}{
				{"follow", func(ctx context.Context, st *jsstore.Store, fn func(events.Envelope) error) error {
					return st.Follow(ctx, 1, fn)
				}},
				{"replay", func(ctx context.Context, st *jsstore.Store, fn func(events.Envelope) error) error {
					return st.Replay(ctx, 1, ack.Sequence, fn)
				}},
			}
			for _, r := range reads {
				var got []uint64
				err := r.read(ctxFor(t), e.store, func(e events.Envelope) error {
					got = append(got, e.Sequence)
					return nil
				})
				te := events.AsTamper(err)
				if te == nil || te.Seq != ack.Sequence || te.Kind != events.TamperEdited {
					t.Errorf("%s ended with %v after %v, want an edited record at %d", r.name, err, got, ack.Sequence)
				}
			}
			if tt.name == "another_token" {
				evs, err := e.store.Load(ctxFor(t), events.KindToken, other)
				if te := events.AsTamper(err); te == nil || te.Seq != ack.Sequence {
					t.Errorf("Load of the token the record was filed under = %d events, %v; want an edited record at %d", len(evs), err, ack.Sequence)
				}
			}
		})
	}
}
