package jsstore

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/storetest"
)

// TestFollowReadsAWantedEventAtOnceAfterItsConnectionReconnected: the
// reader's connection reconnects (as when the node it was connected to
// dies), so the client library recreates Follow's ordered consumer, and
// here it cannot (consumer creation is denied, as it fails while the
// cluster elects a leader). A wanted event appended afterwards (Want, as
// a command's read-your-writes wait) is read with Direct Get at once,
// not after fillAfter, made an hour here: the consumer is known lost.
func TestFollowReadsAWantedEventAtOnceAfterItsConnectionReconnected(t *testing.T) {
	// Restored after startPermFollow's cleanup ended Follow (cleanups run
	// last first), not while its fill goroutine still reads it.
	t.Cleanup(func(d time.Duration) func() { return func() { fillAfter = d } }(fillAfter))
	fillAfter = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := startPermFollow(ctx, t)
	f.deny("$JS.API.CONSUMER.CREATE.>")
	if err := f.nc.ForceReconnect(); err != nil {
		t.Fatal(err)
	}
	// The client library reset the consumer: the old one is deleted, no
	// new one can be made (bounded wait).
	f.waitConsumers(0, 30*time.Second, "the ordered consumer was not reset after the reconnect")
	seq := f.appendOne()
	f.st.Want(seq)
	f.expect(seq, 20*time.Second)
}

// TestOrderedConsumerLeftBehindByAResetIsRemoved: the reader's connection
// reconnects, so the client library recreates Follow's ordered consumer
// and deletes the old one, and here the deletion is refused (as it fails
// while the cluster elects a leader): the old consumer, which nobody
// pulls from, is removed by the server after orderedInactive, so the
// stream's consumer count returns to the steady one (the client
// library's own threshold, 5 minutes, is beyond this test's bound).
func TestOrderedConsumerLeftBehindByAResetIsRemoved(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	f := startPermFollow(ctx, t)
	steady := f.consumers()
	f.deny("$JS.API.CONSUMER.DELETE.>")
	if err := f.nc.ForceReconnect(); err != nil {
		t.Fatal(err)
	}
	f.waitConsumers(steady+1, 30*time.Second, "the reset left no consumer behind")
	f.deny() // deletes allowed again: only the server's threshold removes it now
	f.waitConsumers(steady, 4*orderedInactive, "a consumer left behind by a reset stays")
	seq := f.appendOne() // the new consumer is the one that stays
	f.expect(seq, 20*time.Second)
}

// permFollow is a Follow on a server whose user's permissions a test
// changes while it runs.
type permFollow struct {
	t     *testing.T
	ctx   context.Context
	s     *server.Server
	opts  *server.Options
	nc    *nats.Conn
	st    *Store
	got   chan uint64
	ended chan error
}

// startPermFollow opens a store as a user allowed everything, appends
// one event and follows the stream until that event is delivered.
func startPermFollow(ctx context.Context, t *testing.T) *permFollow {
	t.Helper()
	f := &permFollow{t: t, ctx: ctx, got: make(chan uint64, 16), ended: make(chan error, 1)}
	f.s = natstest.RunServerWith(t, t.TempDir(), func(o *server.Options) { o.Users, f.opts = permUsers(), o })
	f.nc = natstest.Connect(t, f.s, nats.UserInfo("ledger", "ledger-test-pw"), nats.MaxReconnects(-1),
		nats.ReconnectWait(10*time.Millisecond))
	var err error
	if f.st, err = Open(ctx, f.nc, Config{}); err != nil {
		t.Fatal(err)
	}
	first := f.appendOne()
	fctx, fcancel := context.WithCancel(ctx)
	go func() {
		f.ended <- f.st.Follow(fctx, 1, func(env events.Envelope) error { f.got <- env.Sequence; return nil })
	}()
	t.Cleanup(func() { fcancel(); <-f.ended; _ = f.st.Close() })
	f.expect(first, 30*time.Second)
	return f
}

// permUsers is the one user, allowed everything but deny.
func permUsers(deny ...string) []*server.User {
	p := &server.Permissions{Publish: &server.SubjectPermission{Allow: []string{">"}, Deny: deny},
		Subscribe: &server.SubjectPermission{Allow: []string{">"}}}
	return []*server.User{{Username: "ledger", Password: "ledger-test-pw", Permissions: p}}
}

// deny reloads the server with the user denied publishing on subjects.
func (f *permFollow) deny(subjects ...string) {
	f.t.Helper()
	o := f.opts.Clone()
	o.Users = permUsers(subjects...)
	if err := f.s.ReloadOptions(o); err != nil {
		f.t.Fatal(err)
	}
}

func (f *permFollow) appendOne() uint64 {
	f.t.Helper()
	e := storetest.Event(f.t, storetest.NewAggregateID(), storetest.TokenCreated(), "")
	stored, err := f.st.Append(f.ctx, commands.Append{Event: e, MsgID: storetest.NewEventID()})
	if err != nil {
		f.t.Fatalf("Append: %v", err)
	}
	return stored.Seq
}

// expect waits (bounded) for Follow's next delivery, which must be want.
func (f *permFollow) expect(want uint64, bound time.Duration) {
	f.t.Helper()
	select {
	case s := <-f.got:
		if s != want {
			f.t.Fatalf("Follow delivered %d; want %d", s, want)
		}
	case err := <-f.ended:
		f.t.Fatalf("Follow ended: %v", err)
	case <-time.After(bound):
		f.t.Fatalf("wanted sequence %d not delivered within %s", want, bound)
	}
}

// consumers is the stream's consumer count (-1 when it cannot be read).
func (f *permFollow) consumers() int {
	ctx, cancel := context.WithTimeout(f.ctx, 2*time.Second)
	defer cancel()
	si, err := f.st.js.Stream(ctx, f.st.name)
	if err != nil {
		return -1
	}
	return si.CachedInfo().State.Consumers
}

// waitConsumers waits (bounded) until the connection is up and the
// stream has n consumers.
func (f *permFollow) waitConsumers(n int, bound time.Duration, failure string) {
	f.t.Helper()
	for deadline := time.Now().Add(bound); ; time.Sleep(20 * time.Millisecond) {
		if f.nc.Status() == nats.CONNECTED && f.consumers() == n {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%s: %d consumers after %s, want %d", failure, f.consumers(), bound, n)
		}
	}
}
