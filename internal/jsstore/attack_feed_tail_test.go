package jsstore_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/internal/jsstore"
)

// TestFeedPublisherDoesNotTrustAPlantedFeedTail: LEDGER_TOKENS is a
// projection the ledger "publishes again", yet FeedPublisher takes its
// resume position from the Ledger-Sequence header of the feed's last
// message without checking it against the ledger. Someone who wrote the
// stopped data dir (here: the same stored state, written through the feed
// connection while the publisher is stopped) plants a tail message:
//   - ahead: Ledger-Sequence far beyond the ledger's end. The publisher
//     silently skips every later token event (a revocation never reaches
//     readers) and logs nothing.
//   - behind: Ledger-Sequence of an event already in the feed. The
//     publisher republishes the following ledger events (duplicates and
//     reordering once the 2-minute duplicate window has passed; until then
//     it loops on errFeedMoved without any pause).
//
// Either way a token event appended after the restart must reach the feed
// with its own Ledger-Sequence, exactly once.
func TestFeedPublisherDoesNotTrustAPlantedFeedTail(t *testing.T) {
	for _, tc := range []struct {
		name string
		tail func(first uint64) string // the planted Ledger-Sequence
	}{
		{"ahead", func(uint64) string { return "1099511627776" }},
		{"behind", func(first uint64) string { return fmt.Sprint(first) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startFeedServer(t, nil)
			ctx := ctxFor(t)
			rd, _ := e.connectReader(t)
			got := followAll(t, rd)
			_, _, first := create(t, e.store)
			_, _, second := create(t, e.store)
			eventually(t, 10*time.Second, func() error {
				if n := len(got()); n < 2 {
					return fmt.Errorf("%d events followed, want 2", n)
				}
				return nil
			})
			e.stopPublisher()

			// The planted tail: a well-formed feed event whose Ledger-Sequence lies.
			fjs := newJS(t, e.feed)
			m := nats.NewMsg(jsstore.FeedPublishPrefix + ".ledger.token.planted.created")
			m.Data = []byte(`{"id":"planted","type":"token.created","v":1,"kind":"token","aggregate":"planted","time":"2026-01-01T00:00:00Z","actor":{"kind":"system","id":"system"},"via":{},"data":{}}`)
			m.Header.Set(jsstore.LedgerSequenceHeader, tc.tail(first))
			if _, err := fjs.PublishMsg(ctx, m); err != nil {
				t.Fatal(err)
			}
			_ = second

			publish(t, e.store, e.feed) // the ledger restarts
			_, _, third := create(t, e.store)
			eventually(t, 15*time.Second, func() error {
				for _, ev := range got() {
					if ev.LedgerSequence == third {
						return nil
					}
				}
				return fmt.Errorf("the token event at ledger sequence %d never reached the feed (followed %d events)", third, len(got()))
			})
			// The planted event itself stays in the feed (it denies deletes,
			// and a rebuild would renumber what followers resume from); the
			// publisher logs it at ERROR. Every genuine event is there once.
			seen := map[uint64]int{}
			for _, ev := range got() {
				if strings.Contains(string(ev.Data), `"id":"planted"`) {
					continue
				}
				seen[ev.LedgerSequence]++
				if seen[ev.LedgerSequence] > 1 {
					t.Errorf("ledger sequence %d is in the feed twice", ev.LedgerSequence)
				}
			}
		})
	}
}
