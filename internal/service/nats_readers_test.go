package service_test

// NATS readers against the real service: the embedded listener with an
// authenticated reader is the attacker and the follower.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
	"github.com/tokenledger/tokenledger/internal/storetest"
)

const (
	testReader   = "revocation-feed"
	testReaderPW = "reader-password-for-tests"
)

// startWithReaders runs the service with a listening embedded NATS server
// and one reader (testReader), on dir ("" for a new one).
func startWithReaders(t *testing.T, dir string, change func(*service.Config)) *servicetest.Service {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(testReaderPW), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	readers, err := jsstore.ParseReaders(testReader + ":" + string(hash))
	if err != nil {
		t.Fatal(err)
	}
	return servicetest.StartWith(t, dir, nil, func(c *service.Config) {
		c.NATSListen = "127.0.0.1:0"
		c.NATSReaders = readers
		if change != nil {
			change(c)
		}
	})
}

// reader connects as testReader; permission errors are kept.
func reader(s *servicetest.Service, t *testing.T) (*nats.Conn, *violations) {
	t.Helper()
	v := &violations{}
	nc, err := nats.Connect(s.NATSURL(), nats.UserInfo(testReader, testReaderPW), nats.ErrorHandler(v.add), nats.NoReconnect())
	if err != nil {
		t.Fatalf("reader connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc, v
}

type violations struct {
	mu   sync.Mutex
	errs []string
}

func (v *violations) add(_ *nats.Conn, _ *nats.Subscription, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.errs = append(v.errs, err.Error())
}

// healthy asserts /ready answers 200 and a token can be created.
func healthy(s *servicetest.Service, t *testing.T) {
	t.Helper()
	s.Must(http.StatusOK, "GET", "/ready", "", nil)
	s.CreateToken("backend", "development")
}

// The attack, by an authenticated reader: a durable push consumer
// on LEDGER whose idle heartbeats go to the stream's delete advisory.
// Neither the reader's API nor the imported one lets it create one; the
// service stays up, also after a restart.
func TestReaderCannotPlantAdvisoryPushConsumer(t *testing.T) {
	s := startWithReaders(t, "", nil)
	rd, _ := reader(s, t)
	attack := jetstream.ConsumerConfig{Durable: "evil", DeliverSubject: "$JS.EVENT.ADVISORY.STREAM.DELETED.LEDGER",
		IdleHeartbeat: 100 * time.Millisecond, FlowControl: true, FilterSubject: "ledger.token.>"}
	// "$JS.LEDGER.API": the prefix under which the ledger's API would be
	// imported into the feed's account (it is not).
	for _, prefix := range []string{"$JS.API", "$JS.LEDGER.API"} {
		js, err := jetstream.NewWithAPIPrefix(rd, prefix)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		for _, stream := range []string{jsstore.DefaultStream, jsstore.FeedStream} {
			if _, err := js.CreateOrUpdateConsumer(ctx, stream, attack); err == nil {
				t.Errorf("reader created a push consumer on %s through %s", stream, prefix)
			}
		}
		cancel()
	}
	healthy(s, t)
	created := feedCreated(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = startWithReaders(t, s.Config.DataDir, nil)
	healthy(s, t)
	if again := feedCreated(t, s); !again.Equal(created) {
		t.Errorf("the feed was made again at the restart (%s, was %s)", again, created)
	}
}

// feedCreated is the feed stream's creation time (from the server's
// monitoring: readers may not ask for stream info).
func feedCreated(t *testing.T, s *servicetest.Service) time.Time {
	t.Helper()
	return feedDetail(t, s).Created
}

// feedDetail is the feed stream as the embedded server reports it.
func feedDetail(t *testing.T, s *servicetest.Service) server.StreamDetail {
	t.Helper()
	jsz, err := s.NATSServer().Jsz(&server.JSzOptions{Accounts: true, Streams: true, Config: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range jsz.AccountDetails {
		for _, st := range a.Streams {
			if st.Name == jsstore.FeedStream {
				return st
			}
		}
	}
	t.Fatal("the server has no feed stream")
	return server.StreamDetail{}
}

// A durable push consumer planted in the data dir before the ledger
// starts (as the old single-account layout let any client do) is removed
// with an ERROR line naming it, and the ledger serves; it stays gone
// after a restart.
func TestPlantedAdvisoryConsumerIsRemovedAtStartUp(t *testing.T) {
	dir := t.TempDir()
	plantInLedgerAccount(t, dir, func(ctx context.Context, js jetstream.JetStream) {
		if _, err := js.CreateOrUpdateConsumer(ctx, jsstore.DefaultStream, jetstream.ConsumerConfig{Durable: "evil",
			DeliverSubject: "$JS.EVENT.ADVISORY.STREAM.DELETED.LEDGER", IdleHeartbeat: 100 * time.Millisecond, FlowControl: true}); err != nil {
			t.Fatal(err)
		}
	})

	s := startWithReaders(t, dir, nil)
	if !strings.Contains(s.Logs(), `"level":"ERROR"`) || !strings.Contains(s.Logs(), `"consumer":"evil"`) {
		t.Fatalf("no ERROR line naming the removed consumer:\n%s", s.Logs())
	}
	healthy(s, t)
	s = s.Restart()
	healthy(s, t)
	if strings.Contains(s.Logs(), `"consumer":"evil"`) {
		t.Fatalf("the consumer came back after a restart:\n%s", s.Logs())
	}
}

// Clients without valid credentials cannot connect at all; with no
// readers configured, nobody but the ledger can, and the log says how to
// add readers.
func TestUnauthenticatedNATSClientsAreRefused(t *testing.T) {
	s := startWithReaders(t, "", nil)
	for _, opts := range [][]nats.Option{nil, {nats.UserInfo(testReader, "wrong")}, {nats.UserInfo("reader", "")},
		{nats.UserInfo(jsstore.OwnerUser, "")}, {nats.UserInfo(jsstore.FeedUser, "")}} {
		if nc, err := nats.Connect(s.NATSURL(), append(opts, nats.NoReconnect())...); err == nil {
			nc.Close()
			t.Errorf("connect with %d option(s) accepted", len(opts))
		}
	}
	none := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.NATSListen = "127.0.0.1:0" })
	if nc, err := nats.Connect(none.NATSURL(), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Error("anonymous client accepted with no readers configured")
	}
	if !strings.Contains(none.Logs(), "--nats-readers") {
		t.Errorf("no log line saying how to add readers:\n%s", none.Logs())
	}
}

// A reader sees no principal's personal data and no publish JetStream
// refused: neither on ledger.> nor in the feed.
func TestReaderSeesOnlyStoredTokenEvents(t *testing.T) {
	s := startWithReaders(t, "", nil)
	rd, _ := reader(s, t)
	all, err := rd.SubscribeSync("ledger.>")
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := rd.SubscribeSync("ledger.token.>")
	if err != nil {
		t.Fatal(err)
	}
	_ = rd.Flush()
	if le := rd.LastError(); le == nil || !strings.Contains(le.Error(), `Subscription to "ledger.>"`) {
		t.Errorf("a reader may subscribe to ledger.> (last error %v)", le)
	}

	s.CreateUser("grace", "Viewer") // e-mail grace@example.com in ledger.user.*
	_, id := s.CreateToken("backend", "development")
	evs, err := s.Store.Load(context.Background(), events.KindToken, id)
	if err != nil || len(evs) == 0 {
		t.Fatal(evs, err)
	}
	last := evs[len(evs)-1]
	// A conflicting append (stale expectation): JetStream refuses it.
	stale := commands.Append{Event: storetest.Event(t, id, events.TokenRevoked{Reason: events.ReasonCompromised}, last.Hash),
		Expected: 1, MsgID: storetest.NewEventID()}
	if _, err := s.Store.Append(context.Background(), stale); !errors.Is(err, commands.ErrConflict) {
		t.Fatalf("stale append = %v, want a conflict", err)
	}
	s.Must(http.StatusOK, "DELETE", "/api/admin/api-tokens/"+id, servicetest.AdminSecret, nil)
	var got []string
	for { // until the revocation of id arrives (it follows the refused publish)
		m, err := tokens.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("revocation not republished: %v (got %v)", err, got)
		}
		if m.Header.Get("Nats-Sequence") == "" {
			t.Errorf("live event %s without Nats-Sequence", m.Subject)
		}
		got = append(got, m.Subject)
		if strings.Contains(string(m.Data), "compromised") || strings.Contains(string(m.Data), "@example.com") {
			t.Fatalf("reader saw %s: %s", m.Subject, m.Data)
		}
		if m.Subject == "ledger.token."+id+".revoked" {
			break
		}
	}
	if m, err := all.NextMsg(100 * time.Millisecond); err == nil {
		t.Errorf("denied ledger.> subscription delivered %s", m.Subject)
	}
}

// A revocation follower: jsstore.FollowFeed as
// the reader gets every token event, in ledger order and labelled with
// its ledger sequence, none twice, and resumes (by feed sequence) from
// where it stopped.
func TestReaderFollowsTokenEventsGapFree(t *testing.T) {
	s := startWithReaders(t, "", nil)
	rd, _ := reader(s, t)
	var ids []string
	for i := 0; i < 3; i++ {
		_, id := s.CreateToken("backend", "development")
		ids = append(ids, id)
	}
	type seen struct {
		seq     uint64 // in the ledger
		subject string
	}
	var lastFeedSeq uint64
	follow := func(from uint64, until func([]seen) bool) []seen {
		var mu sync.Mutex
		var got []seen
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() {
			done <- jsstore.FollowFeed(ctx, rd, from, func(e jsstore.FeedEvent) error {
				var env struct {
					Type string `json:"type"`
				}
				if err := json.Unmarshal(e.Data, &env); err != nil {
					return err
				}
				mu.Lock()
				got = append(got, seen{e.LedgerSequence, e.Subject})
				lastFeedSeq = e.Sequence
				mu.Unlock()
				return nil
			})
		}()
		var snapshot []seen
		servicetest.WaitFor(t, 15*time.Second, func() error {
			mu.Lock()
			defer mu.Unlock()
			snapshot = append([]seen(nil), got...)
			if !until(got) {
				return fmt.Errorf("follower got %v", snapshot)
			}
			return nil
		})
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("FollowFeed = %v", err)
		}
		return snapshot
	}
	revoked := func(id string) func([]seen) bool {
		return func(got []seen) bool {
			for _, g := range got {
				if g.subject == "ledger.token."+id+".revoked" {
					return true
				}
			}
			return false
		}
	}
	s.Must(http.StatusOK, "DELETE", "/api/admin/api-tokens/"+ids[0], servicetest.AdminSecret, nil)
	first := follow(1, revoked(ids[0]))
	// Revocations while no follower runs, then resume after the last seen.
	s.Must(http.StatusOK, "DELETE", "/api/admin/api-tokens/"+ids[1], servicetest.AdminSecret, nil)
	s.Must(http.StatusOK, "DELETE", "/api/admin/api-tokens/"+ids[2], servicetest.AdminSecret, nil)
	rest := follow(lastFeedSeq+1, revoked(ids[2]))
	all := append(first, rest...)

	// Exactly the stored token events, in order.
	var want []seen
	if err := s.Store.Replay(context.Background(), 1, s.LastSeq(), func(e events.Envelope) error {
		if e.AggregateKind == events.KindToken {
			want = append(want, seen{e.Sequence, e.Subject()})
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(all) > len(want) || fmt.Sprint(all) != fmt.Sprint(want[:len(all)]) {
		t.Fatalf("followed %v\nwant a prefix of %v", all, want)
	}
	if !revoked(ids[1])(all) {
		t.Fatalf("revocation of %s missed: %v", ids[1], all)
	}
}

// More reader connections or subscriptions than configured are refused,
// and the ledger keeps answering.
func TestReaderConnectionsAndSubscriptionsAreCapped(t *testing.T) {
	s := startWithReaders(t, "", func(c *service.Config) {
		c.NATSLimits = service.NATSLimits{MaxReaderConnections: 2, MaxReaderSubscriptions: 4}
	})
	var refused error
	for i := 0; i < 10 && refused == nil; i++ { // bounded
		nc, err := nats.Connect(s.NATSURL(), nats.UserInfo(testReader, testReaderPW), nats.NoReconnect())
		if err != nil {
			refused = err
			break
		}
		t.Cleanup(nc.Close)
	}
	if refused == nil {
		t.Fatal("10 reader connections accepted with a cap of 2")
	}
	healthy(s, t)
}
