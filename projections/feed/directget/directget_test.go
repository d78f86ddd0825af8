package directget_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/projections/feed/directget"
)

// Whoever can answer on a batch's reply inbox (here a second connection
// that subscribes to the request subject, as another connection of the
// same NATS user can) must not make Batch return a sequence other than
// the server's next one: a follower would skip the events in between. An
// answer before the one asked for, a repeated one, one out of order, or
// (without a filter) one past a gap is an error; answers that do follow
// on are returned.
func TestBatchRefusesAnswersOutOfSequence(t *testing.T) {
	tests := []struct {
		name    string
		filter  string
		from    uint64
		answers []uint64
		wantErr bool
	}{
		{"contiguous_from_the_first", "", 1, []uint64{1, 2, 3}, false},
		{"contiguous_from_later", "", 7, []uint64{7, 8}, false},
		{"first_skips_ahead", "", 1, []uint64{5, 6, 7}, true},
		{"gap_inside", "", 1, []uint64{1, 2, 4}, true},
		{"repeated", "", 1, []uint64{1, 1}, true},
		{"before_from", "", 5, []uint64{4, 5}, true},
		{"filtered_gaps_allowed", "ledger.token.a.*", 2, []uint64{3, 7, 9}, false},
		{"filtered_before_from", "ledger.token.a.*", 5, []uint64{3, 7}, true},
		{"filtered_out_of_order", "ledger.token.a.*", 1, []uint64{3, 2}, true},
	}
	s := natstest.RunServer(t)
	client := natstest.Connect(t, s)
	forger := natstest.Connect(t, s)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := "FORGED_" + tt.name
			sub, err := forger.Subscribe("$JS.API.DIRECT.GET."+stream, func(req *nats.Msg) {
				for i, seq := range tt.answers {
					m := nats.NewMsg(req.Reply)
					m.Header.Set(jetstream.SequenceHeader, strconv.FormatUint(seq, 10))
					m.Header.Set(jetstream.SubjectHeader, "ledger.token.a.created")
					m.Header.Set(jetstream.TimeStampHeaer, time.Unix(1_800_000_000, 0).UTC().Format(time.RFC3339Nano))
					m.Header.Set(directget.NumPendingHeader, strconv.Itoa(len(tt.answers)-1-i))
					m.Data = []byte(fmt.Sprintf(`{"n":%d}`, seq))
					_ = forger.PublishMsg(m)
				}
				end := nats.NewMsg(req.Reply)
				end.Header.Set("Status", "204")
				_ = forger.PublishMsg(end)
			})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			if err := forger.Flush(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			msgs, err := directget.Batch(ctx, client, "$JS.API.", stream, tt.filter, tt.from, 10)
			if tt.wantErr {
				if !errors.Is(err, directget.ErrOutOfSequence) {
					t.Fatalf("Batch = %d messages, %v; want ErrOutOfSequence", len(msgs), err)
				}
				return
			}
			if err != nil || len(msgs) != len(tt.answers) {
				t.Fatalf("Batch = %d messages, %v; want %d", len(msgs), err, len(tt.answers))
			}
			for i, m := range msgs {
				if m.Sequence != tt.answers[i] {
					t.Fatalf("message %d has sequence %d, want %d", i, m.Sequence, tt.answers[i])
				}
			}
		})
	}
}
