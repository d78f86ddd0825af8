package jsstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"golang.org/x/crypto/bcrypt"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/storetest"
)

// feedEnv is an embedded server with the two-account layout, the owner's
// store and the feed stream, and one reader (name and password). Like the
// service, the ledger connects in-process and clients through the front
// at url.
type feedEnv struct {
	srv   *server.Server
	front *jsstore.Front
	url   string // the front's
	owner *nats.Conn
	js    jetstream.JetStream // the owner's
	store *jsstore.Store
	feed  *nats.Conn // FeedUser's

	stopPublisher func() // stops the FeedPublisher startFeedServer runs
}

const (
	readerName = "follower"
	readerPW   = "reader-pw"
)

// startFeedServer starts a feedEnv; change may adjust the server's
// configuration, whose MaxConnections is the front's cap (as
// --nats-max-connections is).
func startFeedServer(t *testing.T, change func(*jsstore.EmbeddedConfig)) *feedEnv {
	t.Helper()
	return startFeedServerFront(t, change, nil)
}

// startFeedServerFront is startFeedServer with the front's configuration
// adjusted by changeFront too.
func startFeedServerFront(t *testing.T, change func(*jsstore.EmbeddedConfig), changeFront func(*jsstore.FrontConfig)) *feedEnv {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(readerPW), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := jsstore.EmbeddedConfig{DataDir: t.TempDir(), OwnerPassword: "owner-pw", FeedPassword: "feed-pw",
		Readers: []jsstore.Reader{{Name: readerName, PasswordHash: string(hash)}}}
	if change != nil {
		change(&cfg)
	}
	fcfg := jsstore.FrontConfig{Listen: "127.0.0.1:0", MaxConnections: cfg.MaxConnections, Log: cfg.Log}
	if changeFront != nil {
		changeFront(&fcfg)
	}
	cfg.MaxConnections = fcfg.ServerConnections()
	srv, err := jsstore.StartEmbedded(ctxFor(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	owner, err := nats.Connect("", nats.InProcessServer(srv), nats.UserInfo(jsstore.OwnerUser, "owner-pw"), nats.CustomInboxPrefix(jsstore.OwnerInboxPrefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(owner.Close)
	st := mustOpen(t, owner, jsstore.Config{OwnsServer: true})
	feed, err := nats.Connect("", nats.InProcessServer(srv), nats.UserInfo(jsstore.FeedUser, "feed-pw"), nats.CustomInboxPrefix(jsstore.FeedInboxPrefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(feed.Close)
	if err := jsstore.EnsureFeed(ctxFor(t), feed, nil); err != nil {
		t.Fatal(err)
	}
	front, err := jsstore.OpenFront(srv, fcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := front.Close(); err != nil {
			t.Errorf("front.Close: %v", err)
		}
	})
	e := &feedEnv{srv: srv, front: front, url: front.ClientURL(), owner: owner, js: newJS(t, owner), store: st, feed: feed}
	e.stopPublisher = publish(t, st, feed)
	return e
}

// publish runs a FeedPublisher of st on the feed connection fc until the
// test ends or stop is called.
func publish(t *testing.T, st *jsstore.Store, fc *nats.Conn) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	pub := &jsstore.FeedPublisher{Store: st, Conn: fc, RetryWait: 100 * time.Millisecond}
	go func() { done <- pub.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("FeedPublisher.Run = %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// connectReader connects as the test reader; violations are collected.
func (e *feedEnv) connectReader(t *testing.T) (*nats.Conn, *asyncErrs) {
	t.Helper()
	errs := &asyncErrs{}
	nc, err := nats.Connect(e.url, nats.UserInfo(readerName, readerPW), nats.ErrorHandler(errs.handle))
	if err != nil {
		t.Fatalf("reader connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc, errs
}

type asyncErrs struct {
	mu   sync.Mutex
	errs []error
}

func (a *asyncErrs) handle(_ *nats.Conn, _ *nats.Subscription, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.errs = append(a.errs, err)
}

func (a *asyncErrs) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return fmt.Sprint(a.errs)
}

// followAll runs FollowFeed on nc from 1 and returns the events received.
func followAll(t *testing.T, nc *nats.Conn) (got func() []jsstore.FeedEvent) {
	t.Helper()
	var mu sync.Mutex
	var evs []jsstore.FeedEvent
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- jsstore.FollowFeed(ctx, nc, 1, func(e jsstore.FeedEvent) error {
			mu.Lock()
			evs = append(evs, e)
			mu.Unlock()
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("FollowFeed = %v", err)
		}
	})
	return func() []jsstore.FeedEvent {
		mu.Lock()
		defer mu.Unlock()
		return append([]jsstore.FeedEvent(nil), evs...)
	}
}

// A reader follows every stored token event, numbered by the feed and
// labelled with its ledger sequence, and nothing else: not the principals' events, not a publish
// JetStream refused (a conflicting append).
func TestReaderFollowsOnlyStoredTokenEvents(t *testing.T) {
	e := startFeedServer(t, nil)
	ctx := ctxFor(t)
	rd, _ := e.connectReader(t)
	raw, err := rd.SubscribeSync(jsstore.FeedSubjects) // the live, republished events
	if err != nil {
		t.Fatal(err)
	}
	if err := rd.Flush(); err != nil {
		t.Fatal(err)
	}
	got := followAll(t, rd)

	id, first, seq := create(t, e.store) // seq 1
	if _, err := e.js.Publish(ctx, "ledger.user.42.created", []byte(`{"email":"ada@example.com"}`)); err != nil {
		t.Fatal(err) // seq 2: a principal's event
	}
	stale := commands.Append{Event: storetest.Event(t, id, events.TokenRevoked{Reason: events.ReasonCompromised}, first.Hash),
		Expected: seq - 1, MsgID: storetest.NewEventID()}
	if _, err := e.store.Append(ctx, stale); !errors.Is(err, commands.ErrConflict) {
		t.Fatalf("stale append = %v, want a conflict", err)
	}
	revoke := commands.Append{Event: storetest.Event(t, id, events.TokenRevoked{Reason: events.ReasonRotated}, first.Hash),
		Expected: seq, MsgID: storetest.NewEventID()}
	stored, err := e.store.Append(ctx, revoke) // seq 3
	if err != nil {
		t.Fatal(err)
	}
	last := stored.Seq
	eventually(t, 10*time.Second, func() error {
		if n := len(got()); n < 2 {
			return fmt.Errorf("%d events followed, want 2", n)
		}
		return nil
	})
	evs := got()
	if len(evs) != 2 || evs[0].Sequence != 1 || evs[1].Sequence != 2 || evs[0].LedgerSequence != seq || evs[1].LedgerSequence != last {
		t.Fatalf("followed %+v, want feed sequences 1 and 2 of ledger sequences %d and %d", evs, seq, last)
	}
	for _, ev := range evs {
		if !strings.HasPrefix(ev.Subject, "ledger.token.") || strings.Contains(string(ev.Data), "compromised") {
			t.Errorf("reader received %s %s", ev.Subject, ev.Data)
		}
	}
	// The live subscription got exactly the two stored token events, as
	// the feed stored them: no refused publish, no user event.
	for i, want := range []uint64{seq, last} {
		m, err := raw.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("live event %d: %v", i, err)
		}
		if m.Header.Get("Nats-Sequence") != fmt.Sprint(i+1) || m.Header.Get(jsstore.LedgerSequenceHeader) != fmt.Sprint(want) ||
			strings.Contains(string(m.Data), "compromised") {
			t.Fatalf("live event %d: %s seq %s (ledger %s): %s", i, m.Subject, m.Header.Get("Nats-Sequence"),
				m.Header.Get(jsstore.LedgerSequenceHeader), m.Data)
		}
		if !jsstore.IsFeedWakeUp(m) || string(m.Data) != string(evs[i].Data) {
			t.Fatalf("live message %d is not the stored event: %s %v %q", i, m.Subject, m.Header, m.Data)
		}
	}
	if m, err := raw.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatalf("unexpected live event %s: %s", m.Subject, m.Data)
	}
}

// Every way a reader could create, change or remove server-side state
// fails: consumers (push or pull, on the feed or through the imported
// ledger API), streams, deletes, appends; and the subjects only the
// ledger uses are closed to it.
func TestReaderCannotTouchServerState(t *testing.T) {
	e := startFeedServer(t, nil)
	create(t, e.store)
	rd, errs := e.connectReader(t)
	js := newJS(t, rd)
	// The prefix where an older version imported the ledger's API into
	// the feed's account for its mirror: nothing answers there now.
	imported, err := jetstream.NewWithAPIPrefix(rd, "$JS.LEDGER.API")
	if err != nil {
		t.Fatal(err)
	}
	short := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		t.Cleanup(cancel)
		return ctx
	}
	attacks := []struct {
		name string
		do   func() error
	}{
		{"push consumer onto the delete advisory, on the feed", func() error {
			_, err := js.CreateOrUpdateConsumer(short(), jsstore.FeedStream, jetstream.ConsumerConfig{Durable: "evil",
				DeliverSubject: "$JS.EVENT.ADVISORY.STREAM.DELETED.LEDGER", IdleHeartbeat: time.Second, FlowControl: true})
			return err
		}},
		{"durable pull consumer on the feed", func() error {
			_, err := js.CreateOrUpdateConsumer(short(), jsstore.FeedStream, jetstream.ConsumerConfig{Durable: "mine"})
			return err
		}},
		{"ordered consumer on the feed", func() error {
			c, err := js.OrderedConsumer(short(), jsstore.FeedStream, jetstream.OrderedConsumerConfig{})
			if err != nil {
				return err
			}
			_, err = c.Next(jetstream.FetchMaxWait(time.Second))
			return err
		}},
		{"push consumer on the ledger through the imported API", func() error {
			_, err := imported.CreateOrUpdateConsumer(short(), jsstore.DefaultStream, jetstream.ConsumerConfig{Durable: "evil",
				FilterSubject: "ledger.token.>", DeliverSubject: "$JS.EVENT.ADVISORY.STREAM.DELETED.LEDGER", IdleHeartbeat: time.Second, FlowControl: true})
			return err
		}},
		{"consumer on the ledger with the plain API", func() error {
			_, err := js.CreateOrUpdateConsumer(short(), jsstore.DefaultStream, jetstream.ConsumerConfig{Durable: "x"})
			return err
		}},
		{"stream of its own", func() error {
			_, err := js.CreateStream(short(), jetstream.StreamConfig{Name: "MINE", Subjects: []string{"mine.>"}})
			return err
		}},
		{"delete the feed", func() error { return js.DeleteStream(short(), jsstore.FeedStream) }},
		{"purge the feed", func() error {
			s, err := js.Stream(short(), jsstore.FeedStream)
			if err != nil {
				return err
			}
			return s.Purge(short())
		}},
		{"append a token event", func() error {
			_, err := js.Publish(short(), "ledger.token.forged.created", []byte(`{}`))
			return err
		}},
		{"publish into the feed on the ledger's feed subject", func() error {
			_, err := js.Publish(short(), jsstore.FeedPublishPrefix+".ledger.token.forged.created", []byte(`{}`))
			return err
		}},
		{"read the ledger stream directly", func() error {
			_, err := js.Stream(short(), jsstore.DefaultStream)
			return err
		}},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			if err := a.do(); err == nil {
				t.Fatalf("a reader succeeded (async errors: %s)", errs)
			}
		})
	}
	for _, subject := range []string{jsstore.FeedPublishPrefix + ".>", jsstore.FeedInboxPrefix + ".>", "ledger.user.>"} {
		sub, err := rd.SubscribeSync(subject)
		if err != nil {
			t.Fatal(err)
		}
		_ = rd.Flush()
		_ = sub
		if le := rd.LastError(); le == nil || !strings.Contains(le.Error(), subject) {
			t.Errorf("a reader may subscribe to %s (last error %v)", subject, le)
		}
	}
	ledger, err := e.js.Stream(ctxFor(t), jsstore.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	for ci := range ledger.ListConsumers(ctxFor(t)).Info() {
		if ci.Config.Durable != "" || ci.Config.DeliverSubject != "" {
			t.Errorf("consumer %s (deliver %q) on the ledger stream", ci.Name, ci.Config.DeliverSubject)
		}
	}
}

// Clients without credentials, and with wrong ones, are refused.
func TestEmbeddedRefusesUnauthenticatedClients(t *testing.T) {
	e := startFeedServer(t, nil)
	for _, opts := range [][]nats.Option{nil, {nats.UserInfo(readerName, "wrong")}, {nats.UserInfo(readerName, "")}} {
		if nc, err := nats.Connect(e.url, opts...); err == nil {
			nc.Close()
			t.Fatalf("connect with %d options accepted", len(opts))
		}
	}
}

// An nkey reader signs in with its seed and gets the reader's rights.
func TestNKeyReaderFollowsTheFeed(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	readers, err := jsstore.ParseReaders(pub)
	if err != nil {
		t.Fatal(err)
	}
	e := startFeedServer(t, func(c *jsstore.EmbeddedConfig) { c.Readers = readers })
	nc, err := nats.Connect(e.url, nats.Nkey(pub, func(nonce []byte) ([]byte, error) {
		signer, err := nkeys.FromSeed(seed)
		if err != nil {
			return nil, err
		}
		return signer.Sign(nonce)
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, _, seq := create(t, e.store)
	got := followAll(t, nc)
	eventually(t, 10*time.Second, func() error {
		if evs := got(); len(evs) != 1 || evs[0].LedgerSequence != seq {
			return fmt.Errorf("followed %+v", evs)
		}
		return nil
	})
}

// Reader connections and each reader's subscriptions are capped; the
// owner connects and appends beyond the readers' cap.
func TestReaderConnectionAndSubscriptionCaps(t *testing.T) {
	e := startFeedServer(t, func(c *jsstore.EmbeddedConfig) {
		c.MaxReaderConnections = 3
		c.MaxReaderSubscriptions = 5
	})
	var conns []*nats.Conn
	refused := false
	for i := 0; i < 10 && !refused; i++ { // bounded: 10 attempts
		nc, err := nats.Connect(e.url, nats.UserInfo(readerName, readerPW), nats.NoReconnect())
		if err != nil {
			refused = true
			if i != 3 {
				t.Fatalf("connection %d refused (%v), want the 4th", i+1, err)
			}
			break
		}
		conns = append(conns, nc)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if !refused {
		t.Fatal("10 reader connections accepted with a cap of 3")
	}
	nc := conns[0]
	var subErr error
	for i := 0; i < 10 && subErr == nil; i++ { // bounded: 10 subscriptions
		if _, err := nc.SubscribeSync(fmt.Sprintf("_INBOX.x%d", i)); err != nil {
			subErr = err
		}
		if err := nc.Flush(); err == nil {
			if le := nc.LastError(); le != nil {
				subErr = le
			}
		}
	}
	if !errors.Is(subErr, nats.ErrMaxSubscriptionsExceeded) {
		t.Fatalf("10 subscriptions on one reader connection: %v, want ErrMaxSubscriptionsExceeded", subErr)
	}
	create(t, e.store) // the ledger is not affected
	owner2, err := nats.Connect(e.url, nats.UserInfo(jsstore.OwnerUser, "owner-pw"))
	if err != nil {
		t.Fatalf("the ledger's account is refused once readers are at their cap: %v", err)
	}
	owner2.Close()
}

// The total cap on signed-in client connections (the front's) also
// holds, above the readers' own caps.
func TestEmbeddedConnectionCap(t *testing.T) {
	e := startFeedServer(t, func(c *jsstore.EmbeddedConfig) { c.MaxConnections = 4; c.MaxReaderConnections = 100 })
	var refused error
	for i := 0; i < 5 && refused == nil; i++ {
		nc, err := nats.Connect(e.url, nats.UserInfo(readerName, readerPW), nats.NoReconnect())
		if err != nil {
			refused = err
			break
		}
		t.Cleanup(nc.Close)
	}
	if refused == nil {
		t.Fatal("more connections than MaxConnections accepted")
	}
	if !strings.Contains(refused.Error(), "maximum connections exceeded") {
		t.Fatalf("refused with %v, want nats-server's words, maximum connections exceeded", refused)
	}
	if s := e.front.Stats(); s.SignedIn != 4 {
		t.Fatalf("the front counts %d signed-in connections, want 4", s.SignedIn)
	}
	create(t, e.store)
}

func TestParseReaders(t *testing.T) {
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	hash := "$2a$11$" + strings.Repeat("a", 53)
	tests := []struct {
		spec    string
		want    int
		wantErr string
	}{
		{"", 0, ""},
		{pub, 1, ""},
		{"# readers\n" + pub + "  # a service\nalice:" + hash + ",bob:" + hash, 3, ""},
		{"alice:plaintext", 0, "bcrypt"},
		{"alice:" + hash + " alice:" + hash, 0, "twice"},
		{"NOTAKEY", 0, "neither"},
		{":" + hash, 0, "bad user name"},
		{"a.b:" + hash, 0, "bad user name"},
	}
	for _, tt := range tests {
		got, err := jsstore.ParseReaders(tt.spec)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseReaders(%q) = %v, want error naming %q", tt.spec, err, tt.wantErr)
			}
			continue
		}
		if err != nil || len(got) != tt.want {
			t.Errorf("ParseReaders(%q) = %v, %v; want %d readers", tt.spec, got, err, tt.want)
		}
	}
	for _, spec := range []string{"alice:secret-password", "secret-password"} {
		if _, err := jsstore.ParseReaders(spec); err == nil || strings.Contains(err.Error(), "secret-password") {
			t.Errorf("ParseReaders(%q) = %v, want an error that does not repeat the password", spec, err)
		}
	}
}

// The feed holds every stored token event exactly once, in ledger order
// and without gaps, while two publishers (two ledger processes on one
// server) race to write it, and after both stopped and a new one resumes
// from the feed's end; appends the ledger refused (stale expectations)
// never reach it, nor do other events.
func TestFeedIsGapFreeAndOrderedWithRacingPublishersAndRestart(t *testing.T) {
	e := startFeedServer(t, nil)
	ctx := ctxFor(t)
	second, err := nats.Connect(e.url, nats.UserInfo(jsstore.FeedUser, "feed-pw"), nats.CustomInboxPrefix(jsstore.FeedInboxPrefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.Close)
	stopSecond := publish(t, e.store, second)

	var refused int
	appendSome := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ { // bounded
			id, first, seq := create(t, e.store)
			project := storetest.Event(t, storetest.NewAggregateID(), events.ProjectCreated{Name: "p"}, "")
			if _, err := e.store.Append(ctx, commands.Append{Event: project, MsgID: storetest.NewEventID()}); err != nil {
				t.Fatal(err) // not a token event
			}
			stale := commands.Append{Event: storetest.Event(t, id, events.TokenRevoked{Reason: events.ReasonCompromised}, first.Hash),
				Expected: seq - 1, MsgID: storetest.NewEventID()}
			if _, err := e.store.Append(ctx, stale); !errors.Is(err, commands.ErrConflict) {
				t.Fatalf("stale append = %v, want a conflict", err)
			}
			refused++
			if i%2 == 0 {
				revoke := commands.Append{Event: storetest.Event(t, id, events.TokenRevoked{Reason: events.ReasonRotated}, first.Hash),
					Expected: seq, MsgID: storetest.NewEventID()}
				if _, err := e.store.Append(ctx, revoke); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	type entry struct {
		ledger  uint64
		subject string
	}
	stored := func() []entry { // the ledger's token events, in order
		t.Helper()
		last, err := e.store.LastSequence(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []entry
		if err := e.store.Replay(ctx, 1, last, func(env events.Envelope) error {
			if env.AggregateKind == events.KindToken {
				out = append(out, entry{env.Sequence, env.Subject()})
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	rd, _ := e.connectReader(t)
	got := followAll(t, rd)
	check := func(phase string) {
		t.Helper()
		want := stored()
		eventually(t, 15*time.Second, func() error {
			if n := len(got()); n < len(want) {
				return fmt.Errorf("%d events followed, want %d", n, len(want))
			}
			return nil
		})
		evs := got()
		if len(evs) != len(want) {
			t.Fatalf("%s: the feed holds %d events, the ledger %d token events", phase, len(evs), len(want))
		}
		for i, ev := range evs {
			if ev.Sequence != uint64(i+1) || ev.LedgerSequence != want[i].ledger || ev.Subject != want[i].subject {
				t.Fatalf("%s: feed event %d is %d %s (ledger %d), want ledger %d %s", phase, i+1,
					ev.Sequence, ev.Subject, ev.LedgerSequence, want[i].ledger, want[i].subject)
			}
			if strings.Contains(string(ev.Data), events.ReasonCompromised) {
				t.Fatalf("%s: a refused append reached the feed: %s", phase, ev.Data)
			}
			// storetest.Event's actor name, remote address and request id
			for _, personal := range []string{`"Ada"`, "127.0.0.1", "req-1", `"name"`, "remoteAddr", "requestId"} {
				head, _, ok := bytes.Cut(ev.Data, []byte(`"data":`))
				if !ok || strings.Contains(string(head), personal) {
					t.Fatalf("%s: feed event %d carries %s: %s", phase, i+1, personal, ev.Data)
				}
			}
		}
	}

	appendSome(12)
	check("two publishers racing")
	e.stopPublisher()
	stopSecond()
	appendSome(5) // while no publisher runs
	publish(t, e.store, e.feed)
	appendSome(3)
	check("after a restart")
	if refused == 0 {
		t.Fatal("no append was refused")
	}
}

// A feed left by an older version, a mirror of the ledger's stored token
// events (principals' personal data included), is deleted with a WARN
// line and rebuilt as the projection: the publisher fills it again, and
// no event in it carries the personal data.
func TestEnsureFeedReplacesAMirrorFeed(t *testing.T) {
	e := startFeedServer(t, nil)
	e.stopPublisher()
	create(t, e.store)
	create(t, e.store)
	js := newJS(t, e.feed)
	if err := js.DeleteStream(ctxFor(t), jsstore.FeedStream); err != nil {
		t.Fatal(err)
	}
	old := jetstream.StreamConfig{Name: jsstore.FeedStream, Storage: jetstream.FileStorage, DenyDelete: true, DenyPurge: true,
		AllowDirect: true, Mirror: &jetstream.StreamSource{Name: jsstore.DefaultStream, FilterSubject: jsstore.FeedSubjects}}
	// The server removes a deleted stream's files in the background: a
	// create of the same name right after may find them (10049); retry,
	// bounded.
	var err error
	for i := 0; i < 50; i++ {
		if _, err = js.CreateStream(ctxFor(t), old); err == nil || !strings.Contains(err.Error(), "10049") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("create the old mirror feed: %v", err)
	}
	log := &lineLogger{}
	if err := jsstore.EnsureFeed(ctxFor(t), e.feed, log); err != nil {
		t.Fatal(err)
	}
	if log.find("mirror") == "" {
		t.Errorf("no log line says the mirror feed was replaced: %q", log.lines)
	}
	st, err := js.Stream(ctxFor(t), jsstore.FeedStream)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := st.CachedInfo().Config; cfg.Mirror != nil || cfg.SubjectTransform == nil {
		t.Fatalf("the feed is still a mirror: %+v", cfg)
	}
	publish(t, e.store, e.feed)
	rd, _ := e.connectReader(t)
	got := followAll(t, rd)
	eventually(t, 10*time.Second, func() error {
		if n := len(got()); n < 2 {
			return fmt.Errorf("%d events followed, want 2", n)
		}
		return nil
	})
	for _, ev := range got() {
		if strings.Contains(string(ev.Data), "remoteAddr") || strings.Contains(string(ev.Data), `"Ada"`) {
			t.Fatalf("the rebuilt feed carries personal data: %s", ev.Data)
		}
	}
}

// A reader's Direct Get may name any reply subject, and JetStream
// publishes the answer (a stored event) there. Named on the subject the
// feed stream listens on, that answer would be stored in the feed as a
// new event: the service import answers on a reply subject of its own in
// FEED, so nothing is stored.
func TestReaderCannotWriteIntoTheFeedThroughAReplySubject(t *testing.T) {
	e := startFeedServer(t, nil)
	create(t, e.store)
	rd, _ := e.connectReader(t)
	got := followAll(t, rd)
	eventually(t, 10*time.Second, func() error {
		if n := len(got()); n != 1 {
			return fmt.Errorf("%d events followed, want 1", n)
		}
		return nil
	})
	for _, reply := range []string{
		jsstore.FeedPublishPrefix + ".ledger.token.forged.revoked",
		"ledger.token.forged.revoked",
	} {
		for _, body := range []string{`{"seq":1}`, `{"seq":1,"batch":10}`} {
			req := nats.NewMsg("$JS.API.DIRECT.GET." + jsstore.FeedStream)
			req.Reply, req.Data = reply, []byte(body)
			if err := rd.PublishMsg(req); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := rd.Flush(); err != nil {
		t.Fatal(err)
	}
	create(t, e.store) // a real event after the attempts: the feed must hold exactly two
	eventually(t, 10*time.Second, func() error {
		if n := len(got()); n < 2 {
			return fmt.Errorf("%d events followed, want 2", n)
		}
		return nil
	})
	st, err := newJS(t, e.feed).Stream(ctxFor(t), jsstore.FeedStream)
	if err != nil {
		t.Fatal(err)
	}
	if n := st.CachedInfo().State.Msgs; n != 2 {
		t.Fatalf("the feed holds %d events after a reader's Direct Gets with reply subjects into it, want 2: %+v", n, got())
	}
}
