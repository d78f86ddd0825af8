package jsstore_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/internal/jsstore"
)

// nats-server queues every account's JetStream API requests in one queue
// per kind (info requests, the rest), and when one holds 10,000 requests
// it drops all of them, whoever sent them. A reader may send STREAM.INFO
// for the feed; sent fast enough (8 connections here), its requests make
// the server drop the queue, and with it the ledger's own STREAM.INFO
// (LastSequence, the configuration re-check, Open's checks at start-up),
// which is then never answered. (Direct Get does not go through this
// queue; readers need no other API call.)
func TestReaderCannotMakeTheServerDropTheLedgersAPICalls(t *testing.T) {
	logs := &lineLogger{}
	e := startFeedServer(t, func(c *jsstore.EmbeddedConfig) { c.Log = logs })
	create(t, e.store)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var readers []*nats.Conn
	for c := 0; c < 8; c++ { // all connected before any floods
		rd, _ := e.connectReader(t)
		readers = append(readers, rd)
	}
	for _, rd := range readers {
		wg.Add(1)
		go func() { // the flood: bounded in count and time
			defer wg.Done()
			deadline := time.Now().Add(8 * time.Second)
			req := nats.NewMsg("$JS.API.STREAM.INFO." + jsstore.FeedStream)
			req.Reply = "_INBOX.nobody-listens"
			req.Data = []byte(`{"subjects_filter":">"}`)
			for i := 0; i < 2_000_000 && time.Now().Before(deadline); i++ {
				select {
				case <-stop:
					return
				default:
				}
				if rd.PublishMsg(req) != nil {
					return
				}
			}
		}()
	}
	// Meanwhile the ledger asks for its stream's state, as it does at
	// start-up and in every re-check.
	var ledgerErr error
	deadline := time.Now().Add(8 * time.Second)
	for i := 0; i < 2000 && ledgerErr == nil && logs.find("limit reached") == "" && time.Now().Before(deadline); i++ { // bounded
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // a dropped request is never answered
		_, ledgerErr = e.store.LastSequence(ctx)
		cancel()
	}
	close(stop)
	wg.Wait()
	if l := logs.find("limit reached"); l != "" {
		t.Fatalf("a reader's flood made the server drop every queued JetStream API request, the ledger's included: %s (ledger's LastSequence: %v)", l, ledgerErr)
	}
	if ledgerErr != nil {
		t.Fatalf("while a reader floods STREAM.INFO of the feed, the ledger's own LastSequence fails: %v", ledgerErr)
	}
}

// lineLogger keeps the server's log lines.
type lineLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineLogger) Log(_ context.Context, _ slog.Level, msg string, _ ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, msg)
}

func (l *lineLogger) find(sub string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.lines {
		if strings.Contains(m, sub) {
			return m
		}
	}
	return ""
}
