package jsstore

import (
	"errors"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// The queue between decoding and applying is bounded: a push to a full
// queue waits, and stop releases it without queuing (a read that ends
// must not leave its consumer's goroutine waiting).
func TestApplyQueueBoundsWhatIsDecodedAhead(t *testing.T) {
	q := newApplyQueue()
	for i := range applyQueueMax {
		if !q.push(queued{env: events.Envelope{Sequence: uint64(i + 1)}}, false) {
			t.Fatalf("push %d refused before the queue was full", i+1)
		}
	}
	pushed := make(chan bool, 1)
	go func() { pushed <- q.push(queued{env: events.Envelope{Sequence: applyQueueMax + 1}}, false) }()
	q.stop()
	select {
	case ok := <-pushed:
		if ok {
			t.Fatal("a push to a full queue was accepted")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("stop did not release a push waiting for room")
	}
	if n := len(q.items); n != applyQueueMax {
		t.Fatalf("the queue holds %d entries, want %d", n, applyQueueMax)
	}
}

// run hands the queued events to fn in order, more than the queue holds
// at once, and ends with the end entry's error after the events before
// it, calling fn no more.
func TestApplyQueueRunsInOrderUpToTheEnd(t *testing.T) {
	q := newApplyQueue()
	const n = 3*applyQueueMax + 7
	errEnd := errors.New("sequence 1545 unreadable")
	go func() {
		for i := range n {
			q.push(queued{env: events.Envelope{Sequence: uint64(i + 1)}}, i%100 == 0)
		}
		q.push(queued{end: true, err: errEnd}, true)
		q.push(queued{env: events.Envelope{Sequence: n + 1}}, true)
	}()
	var got []uint64
	ended := make(chan error, 1)
	q.run(func(e events.Envelope) error {
		got = append(got, e.Sequence)
		return nil
	}, func(err error) { ended <- err })
	if err := <-ended; !errors.Is(err, errEnd) {
		t.Fatalf("ended with %v, want %v", err, errEnd)
	}
	if len(got) != n {
		t.Fatalf("fn saw %d events, want %d", len(got), n)
	}
	for i, seq := range got {
		if seq != uint64(i+1) {
			t.Fatalf("fn saw %d at %d, want them in order", seq, i)
		}
	}
}

// The reading side learns that the applying side lags (and then decodes
// payloads itself) only while more events wait than one wake-up hands
// over; once the applying side took them, it leaves that work to it again.
func TestApplyQueueSaysWhenTheApplyingSideLags(t *testing.T) {
	q := newApplyQueue()
	for i := range applyBatch {
		q.push(queued{env: events.Envelope{Sequence: uint64(i + 1)}}, false)
	}
	if q.behind() {
		t.Fatalf("behind with %d events waiting, one wake-up's worth", applyBatch)
	}
	q.push(queued{env: events.Envelope{Sequence: applyBatch + 1}}, false)
	if !q.behind() {
		t.Fatalf("not behind with %d events waiting", applyBatch+1)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	if batch := q.take(timer); len(batch) != applyBatch+1 {
		t.Fatalf("took %d events, want %d", len(batch), applyBatch+1)
	}
	if q.behind() {
		t.Fatal("behind after the applying side took every event")
	}
}
