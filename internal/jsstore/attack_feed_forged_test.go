package jsstore_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/storetest"
)

// TestFeedRefusesLedgerEventsWhoseHashDoesNotVerify: the feed drops the
// hash chain (prev, hash), so a reader cannot check an event; the ledger's
// own history route reports a broken chain (intact: false), but the
// FeedPublisher copies whatever is stored under ledger.token.> without
// CheckHash and passes Data through verbatim (json.RawMessage, not
// re-encoded from the typed payload). An event written into LEDGER by
// someone with write access to the stopped data dir (here: the same
// stored bytes, published on the owner's connection) — a revocation
// reason changed after sealing, with an e-mail address added inside data —
// reaches every reader as a genuine token event.
func TestFeedRefusesLedgerEventsWhoseHashDoesNotVerify(t *testing.T) {
	e := startFeedServer(t, nil)
	ctx := ctxFor(t)
	rd, _ := e.connectReader(t)
	got := followAll(t, rd)
	id, first, _ := create(t, e.store)

	forged := storetest.Event(t, id, events.TokenRevoked{Reason: events.ReasonRotated}, first.Hash)
	b, err := events.Marshal(&forged)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte(`"reason":"`+events.ReasonRotated+`"`),
		[]byte(`"reason":"`+events.ReasonCompromised+`","ownerEmail":"ada@example.com"`), 1)
	if !bytes.Contains(b, []byte("ada@example.com")) {
		t.Fatalf("forgery not applied: %s", b)
	}
	ack, err := e.js.Publish(ctx, forged.Subject(), b)
	if err != nil {
		t.Fatal(err)
	}
	_, _, after := create(t, e.store) // a genuine event after the forgery
	eventually(t, 10*time.Second, func() error {
		for _, ev := range got() {
			if ev.LedgerSequence == after {
				return nil
			}
		}
		return fmt.Errorf("the genuine event at ledger sequence %d never reached the feed", after)
	})
	for _, ev := range got() {
		if ev.LedgerSequence == ack.Sequence || strings.Contains(string(ev.Data), "ada@example.com") {
			t.Errorf("a reader received the forged ledger event (ledger sequence %d, hash does not verify): %s", ev.LedgerSequence, ev.Data)
		}
	}
}
