package jsstore

import (
	"testing"

	"github.com/tokenledger/tokenledger/events"
)

// The own lane's proof for an append of several feed events (an atomic
// batch of token events, a cascade) does not depend on how far the
// ledger's check has already come: when the check passed the whole batch
// before the own lane looked, every feed event before the batch is still
// the feed's last one, so the batch may be published at once, as a
// single event is in the same situation.
func TestFeedTrackerProvesABatchTheCheckAlreadyPassed(t *testing.T) {
	const feedEnd = 10 // the feed's last event is at ledger sequence 10
	for _, tc := range []struct {
		name    string
		batch   int    // token events appended at 11, 12, …
		through uint64 // how far the check came when the own lane looks
	}{
		{"single event, not yet checked", 1, 10},
		{"single event, already checked", 1, 11},
		{"batch of 3, not yet checked", 3, 10},
		{"batch of 3, first checked", 3, 11},
		{"batch of 3, two checked", 3, 12},
		{"batch of 3, all checked", 3, 13},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tr FeedTracker
			for seq := uint64(1); seq <= tc.through; seq++ {
				env := events.Envelope{AggregateKind: events.KindToken, AggregateID: "01a24a9d-ce6b-723f-a29d-389eb0b7403a",
					Type: "token.created", Sequence: seq}
				tr.Checked(&env)
			}
			if !tr.completeBefore(feedEnd+1, feedEnd) {
				t.Errorf("checked through %d: the own lane may not publish the append at %d..%d after the feed's last event %d",
					tc.through, feedEnd+1, feedEnd+tc.batch, feedEnd)
			}
		})
	}
}

// The own lane's proof refuses an append when a feed event before it is
// not the feed's last one (the feed lacks it), and when the check ran so
// far ahead that the last feed event before the append is forgotten.
func TestFeedTrackerRefusesABatchWithAFeedEventMissingBeforeIt(t *testing.T) {
	for _, tc := range []struct {
		name          string
		through       uint64 // every event 1..through is a feed event
		seq, feedEnd  uint64
		wantPublished bool
	}{
		{"nothing checked yet, the stream's first event", 0, 1, 0, true},
		{"nothing checked yet, a later event", 0, 2, 0, false},
		{"the feed's last event is the one before", 20, 11, 10, true},
		{"the feed lacks the event before", 20, 11, 9, false},
		{"the feed holds an event past the append's first", 20, 11, 12, false},
		{"the check has not reached the append", 9, 11, 10, false},
		{"the event before is forgotten", 10 + feedRing, 11, 10, false},
		{"the event before is the oldest remembered", 9 + feedRing, 11, 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tr FeedTracker
			for seq := uint64(1); seq <= tc.through; seq++ {
				env := events.Envelope{AggregateKind: events.KindToken, AggregateID: "01a24a9d-ce6b-723f-a29d-389eb0b7403a",
					Type: "token.created", Sequence: seq}
				tr.Checked(&env)
			}
			if got := tr.completeBefore(tc.seq, tc.feedEnd); got != tc.wantPublished {
				t.Errorf("completeBefore(%d, %d) after checking 1..%d = %v; want %v", tc.seq, tc.feedEnd, tc.through, got, tc.wantPublished)
			}
		})
	}
}
