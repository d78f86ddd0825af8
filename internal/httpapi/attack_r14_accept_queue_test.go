package httpapi_test

import (
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The connection limiter admits newcomers in its Accept, one at a time.
// When every slot is busy and the newcomer at the head of the queue may
// evict nobody (its address holds as many connections as any other, or
// one fewer), Accept waits there for a slot to end (up to the read or
// write timeout: 15 s, 25 s) and every newcomer behind it waits too:
// /health from a fresh address, which the fair share promises a slot by
// evicting the busy connection of the address holding the most, is never
// even looked at. Three loopback addresses holding every slot with busy
// connections (pipelined answers never read: busy until the write
// timeout), plus one queued connection of theirs ahead of the probe,
// starve /health for as long as they renew.
func TestQueuedNewcomerDoesNotBlockFairShareOfOthers(t *testing.T) {
	const limit = 6 // a share of 3 per address
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MaxConnections = limit })
	held := 0
	for _, from := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		for range limit / 3 {
			if holdUnread(t, s, from) {
				held++
			}
		}
	}
	if held != limit {
		t.Fatalf("the three addresses hold %d busy connections, want every slot (%d)", held, limit)
	}
	time.Sleep(500 * time.Millisecond) // the server fills the unread connections' buffers
	// A newcomer of an attacking address: it may evict nobody (its address
	// holds as many as the others), so it waits at the head of the queue.
	if _, err := r13Dial(t, s, "127.0.0.2", false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the limiter takes it first

	if err := healthFrom(t, s, "127.0.0.9"); err != nil {
		t.Fatalf("/health from a fresh address, queued behind a newcomer that may evict nobody while three addresses hold every slot busy: %v", err)
	}
}
