package jsstore

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
)

// TestRetriedAppendWithAnUnansweredAttemptIsNotCalledRefused: an append
// whose first attempt went unanswered (it may be stored: a leader that took
// it and lost its quorum commits it once the quorum is back) and whose last
// was refused must not answer "nothing was stored": its outcome is unknown.
// The attempts are real requests: a real subscriber takes the first and
// never answers, then leaves, so the next ones find no responders.
func TestRetriedAppendWithAnUnansweredAttemptIsNotCalledRefused(t *testing.T) {
	ctx, nc, s := openOnNewServer(t, 30*time.Second)

	sink, err := nc.SubscribeSync("attempts.x") // takes the first attempt and never answers
	if err != nil {
		t.Fatal(err)
	}
	var attempts atomic.Int32
	publish := func(ctx context.Context) (commands.Stored, error) {
		if attempts.Add(1) == 2 {
			_ = sink.Unsubscribe()
			_ = nc.Flush()
		}
		_, err := nc.RequestWithContext(ctx, "attempts.x", nil)
		return commands.Stored{}, err
	}
	ev := events.Envelope{Type: events.TypeTokenCreated, AggregateKind: events.KindToken, AggregateID: "x"}
	batch := []commands.Append{{Event: ev, MsgID: "m1"}}
	pctx, pcancel := context.WithTimeout(ctx, 3*time.Second) // the caller's deadline ends the retries
	defer pcancel()
	_, err = s.publishRetrying(pctx, batch, publish)
	if attempts.Load() < 2 || !errors.Is(err, nats.ErrNoResponders) && !TimedOut(err) {
		t.Fatalf("after %d attempts: %v (want a timeout, then no responders)", attempts.Load(), err)
	}
	_, err = s.failed(ctx, batch, err)
	if errors.Is(err, commands.ErrUnavailable) || !errors.Is(err, commands.ErrOutcomeUnknown) {
		t.Fatalf("append with an unanswered attempt answered %v; want an unknown outcome, never \"nothing stored\"", err)
	}
	if !strings.Contains(err.Error(), "no responders") {
		t.Fatalf("%v does not name the last attempt's refusal", err)
	}
}
