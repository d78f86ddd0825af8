package servicetest

import (
	"sync"
	"testing"
	"time"
)

// Clock is a clock a test moves by hand: set its Now as
// [service.Config.Now] and call Advance instead of sleeping.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's reading.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// FromNow is the wall-clock time d from now as the API takes it (RFC
// 3339, UTC, whole seconds); a negative d is in the past.
func FromNow(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }

// waitPoll is how often WaitFor looks again.
const waitPoll = 10 * time.Millisecond

// WaitFor waits until check returns nil, looking again every few
// milliseconds, and fails the test with check's last error if that takes
// longer than within. It is for what happens in the background (the
// expiry scheduler, a projection, the feed, an advisory), never an
// assertion on how long it takes.
func WaitFor(t testing.TB, within time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", within, err)
		}
		time.Sleep(waitPoll)
	}
}
