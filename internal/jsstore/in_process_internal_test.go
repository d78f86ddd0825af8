package jsstore

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
)

// TestAppendWhoseMsgIDIsStillInProcessIsRetriedNeverAnInternalError: a
// leader that lost its quorum keeps an unanswered attempt among its
// proposals and answers the retry with the same msg id "duplicate message
// id is in process" (10158): that attempt may yet be stored. The append is
// retried; when it stays in process it is an unknown outcome (a 503 "may
// or may not"), never an internal error, never "nothing was changed". The
// answers come from a real subscriber on a real server, speaking the
// JetStream API.
func TestAppendWhoseMsgIDIsStillInProcessIsRetriedNeverAnInternalError(t *testing.T) {
	const inProcessAnswer = `{"type":"io.nats.jetstream.api.v1.pub_ack","error":{"code":503,"err_code":10158,"description":"duplicate message id is in process"}}`
	tests := []struct {
		name      string
		inProcess int32 // attempts answered 10158 before an ack; -1: all
		wantSeq   uint64
	}{
		{"stored once the quorum is back", 2, 7},
		{"still in process when the budget ends", -1, 0},
	}
	ctx, nc, s := openOnNewServer(t, 60*time.Second)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var attempts atomic.Int32
			sub, err := nc.Subscribe("inprocess.x", func(m *nats.Msg) {
				n := attempts.Add(1)
				if tt.inProcess < 0 || n <= tt.inProcess {
					_ = m.Respond([]byte(inProcessAnswer))
					return
				}
				_ = m.Respond([]byte(`{"stream":"LEDGER","seq":7}`))
			})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			publish := func(ctx context.Context) (commands.Stored, error) {
				ack, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: "inprocess.x", Data: []byte("x")})
				if err != nil {
					return commands.Stored{}, err
				}
				return commands.Stored{Seq: ack.Sequence}, nil
			}
			ev := events.Envelope{Type: events.TypeTokenCreated, AggregateKind: events.KindToken, AggregateID: "x"}
			batch := []commands.Append{{Event: ev, MsgID: "m1"}}
			stored, err := s.publishRetrying(ctx, batch, publish)
			if err != nil {
				_, err = s.failed(ctx, batch, err)
			}
			switch {
			case tt.wantSeq != 0 && (err != nil || stored.Seq != tt.wantSeq):
				t.Fatalf("after %d attempts: seq %d, %v; want seq %d", attempts.Load(), stored.Seq, err, tt.wantSeq)
			case tt.wantSeq == 0 && (!errors.Is(err, commands.ErrOutcomeUnknown) || errors.Is(err, commands.ErrUnavailable)):
				t.Fatalf("after %d attempts: %v; want an unknown outcome", attempts.Load(), err)
			}
		})
	}
}
