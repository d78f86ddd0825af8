package feed

import (
	"encoding/json"
	"fmt"
	"time"
)

// HeartbeatSubject is where the ledger's feed publisher announces, about
// once a second ([DefaultHeartbeat]), how far the feed is complete: a
// core NATS message (not stored) holding a [Heartbeat]. Readers may
// subscribe to it and never publish on it.
//
// The heartbeat tells a quiet ledger from a stalled publisher: a feed
// that holds every event the ledger stored keeps beating; a publisher
// that cannot follow the ledger (its disk cap reached, the ledger stopped
// at a tampered event, the publisher gone) falls silent, and a reader
// that hears nothing for longer than its staleness bound knows its token
// set may be old.
const HeartbeatSubject = "tokenledger.feed.heartbeat"

// DefaultHeartbeat is how often the feed publisher beats while it is
// current.
const DefaultHeartbeat = time.Second

// Heartbeat is what the feed publisher announces on [HeartbeatSubject]:
// every event the feed carries with a ledger sequence up to
// LedgerSequence is stored in the feed at a feed sequence up to
// FeedSequence. LedgerSequence is the ledger's last sequence when the
// publisher checked, often past the last feed event (a batch that ends
// with events the feed does not carry, such as the release of a deleted
// user's name): a reader that applied the feed up to FeedSequence has
// every token change up to LedgerSequence.
type Heartbeat struct {
	LedgerSequence uint64    `json:"ledger_sequence"`
	FeedSequence   uint64    `json:"feed_sequence"`
	Time           time.Time `json:"time"`
	// VerifierKey is the ledger's verifier key, which signs the feed's
	// events ([SignedBytes]); a reader that was given none trusts it on
	// first use.
	VerifierKey string `json:"verifier_key,omitempty"`
}

// ParseHeartbeat decodes a heartbeat message's data.
func ParseHeartbeat(data []byte) (Heartbeat, error) {
	var h Heartbeat
	if err := json.Unmarshal(data, &h); err != nil {
		return Heartbeat{}, fmt.Errorf("feed: heartbeat: %w", err)
	}
	return h, nil
}
