package httpapi_test

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// Waiting places are few (at most the cap, at most 128), and a waiter
// keeps its place until a slot frees or its wait ends, even when its
// client is gone: an attacker who connects from as many addresses as
// there are places and resets each connection at once (holding nothing
// itself; or closes it) fills them for 10 s at the cost of a handshake each, and an
// honest newcomer arriving at a busy moment is closed instead of waiting
// for the busy requests to end.
func TestNewcomerIsNotRefusedAWaitByConnectionsAlreadyGone(t *testing.T) {
	for _, tt := range []struct {
		name  string
		reset bool
	}{{"reset", true}, {"closed", false}} {
		t.Run(tt.name, func(t *testing.T) { newcomerAfterGoneWaiters(t, tt.reset) })
	}
}

// newcomerAfterGoneWaiters is TestNewcomerIsNotRefusedAWaitByConnectionsAlreadyGone
// with the waiters' connections reset or closed.
func newcomerAfterGoneWaiters(t *testing.T, reset bool) {
	const limit = 2
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MaxConnections = limit })
	var finish []func() error
	for i := range limit {
		if f := startSlowUpload(t, s, fmt.Sprintf("127.0.0.%d", 2+i)); f != nil {
			finish = append(finish, f)
		}
	}
	if len(finish) != limit {
		t.Fatalf("%d busy connections, want every slot (%d)", len(finish), limit)
	}
	for i := range limit { // as many as may wait
		c, err := r13Dial(t, s, fmt.Sprintf("127.0.0.%d", 30+i), false)
		if err != nil {
			t.Fatal(err)
		}
		if reset {
			_ = c.(*net.TCPConn).SetLinger(0)
		}
		time.Sleep(50 * time.Millisecond) // it waits
		_ = c.Close()                     // the client is gone
	}
	time.Sleep(300 * time.Millisecond) // a few of a waiter's polls
	ended := endUploadsAfter(t, 300*time.Millisecond, finish)
	err := healthFrom(t, s, "127.0.0.9")
	ended()
	if err != nil {
		t.Fatalf("/health from a newcomer at a busy moment, the waiting places held by connections already reset: %v (closed instead of waiting)", err)
	}
}

// endUploadsAfter sends the rest of each slow upload (startSlowUpload's
// finish) after d, in a goroutine; the function it returns waits for it.
func endUploadsAfter(t *testing.T, d time.Duration, finish []func() error) func() {
	t.Helper()
	var wg sync.WaitGroup
	wg.Go(func() {
		time.Sleep(d)
		for _, f := range finish {
			if err := f(); err != nil {
				t.Errorf("a slow upload's answer: %v", err)
			}
		}
	})
	return wg.Wait
}
