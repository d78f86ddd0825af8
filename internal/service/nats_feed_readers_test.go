package service_test

// Attacks on the readers' feed (LEDGER_TOKENS in account FEED) by an
// authenticated NATS reader, through the real service and its embedded
// listener.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A reader that follows token events must not learn the principals'
// personal data: the name, remote address, user agent and request id of
// whoever created or revoked a token ("a service following revocations
// needs token events, not principals' personal data"). The events are
// stored with them (the audit log needs them); the feed carries copies
// without them.
func TestReaderDoesNotSeePrincipalsAddressesOrUserAgents(t *testing.T) {
	s := startWithReaders(t, "", nil)
	const ua = "Mozilla/5.0 (canary-user-agent-of-grace)"
	grace := s.CreateUser("grace", "Admin")
	s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", grace.Secret,
		map[string]any{"tokenName": "by-grace", "type": "backend", "environment": "development"}, "User-Agent", ua)
	rd, _ := reader(s, t)
	var seen []string
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	want := s.LastSeq()
	err := jsstore.FollowFeed(ctx, rd, 1, func(e jsstore.FeedEvent) error {
		var env struct {
			Actor map[string]any `json:"actor"`
			Via   map[string]any `json:"via"`
		}
		if err := json.Unmarshal(e.Data, &env); err != nil {
			return err
		}
		for _, k := range []string{"name"} {
			if v, ok := env.Actor[k]; ok {
				seen = append(seen, fmt.Sprintf("%s: actor.%s=%v", e.Subject, k, v))
			}
		}
		for _, k := range []string{"remoteAddr", "userAgent", "requestId"} {
			if v, ok := env.Via[k]; ok {
				seen = append(seen, fmt.Sprintf("%s: via.%s=%v", e.Subject, k, v))
			}
		}
		if strings.Contains(string(e.Data), ua) || strings.Contains(string(e.Data), `"grace"`) {
			seen = append(seen, e.Subject+": "+string(e.Data))
		}
		if e.LedgerSequence >= want {
			cancel()
		}
		return nil
	})
	if ctx.Err() == nil {
		t.Fatalf("FollowFeed = %v", err)
	}
	if len(seen) > 0 {
		t.Fatalf("a NATS reader sees principals' personal data in token events:\n%s", strings.Join(seen, "\n"))
	}
}

// A reader cannot publish on ledger.token.>, but it may set any reply
// subject on a Direct Get request, and JetStream publishes the answer
// there: every subscriber of ledger.token.> in its account (each reader
// has one of its own; here victim and attacker are the same reader) then
// receives stored events on subjects of the attacker's choosing (here a
// revocation of a token that does not exist). No subject permission can
// stop that. So a
// follower (jsstore.FollowFeed) takes a live event only in the republish's
// form and at the feed sequence it expects next, and otherwise reads with
// Direct Get. The test
// checks that a follower receives only stored events, and that no forged
// message passes for a wake-up. (Originally it asserted that nothing at
// all arrives on the forged subject, which nats-server cannot prevent: the
// fan-out to raw subscribers remains.)
func TestReaderCannotForgeLiveFeedEvents(t *testing.T) {
	s := startWithReaders(t, "", nil)
	s.CreateToken("backend", "development")
	victim, _ := reader(s, t)
	live, err := victim.SubscribeSync(jsstore.FeedSubjects)
	if err != nil {
		t.Fatal(err)
	}
	if err := victim.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var followed []string
	var followedSeq uint64
	done := make(chan error, 1)
	go func() {
		done <- jsstore.FollowFeed(ctx, victim, 1, func(ev jsstore.FeedEvent) error {
			mu.Lock()
			defer mu.Unlock()
			followed = append(followed, ev.Subject)
			followedSeq = ev.LedgerSequence
			return nil
		})
	}()
	attacker, _ := reader(s, t)
	waitFeed(t, s, s.LastSeq())
	const forged = "ledger.token.00000000-0000-0000-0000-00000000dead.revoked"
	for _, body := range []string{`{"seq":1,"batch":1000}`, `{"seq":1}`, `{"last_by_subj":"ledger.token.>"}`} {
		req := nats.NewMsg("$JS.API.DIRECT.GET." + jsstore.FeedStream)
		req.Reply = forged
		req.Data = []byte(body)
		if err := attacker.PublishMsg(req); err != nil {
			t.Fatal(err)
		}
	}
	if err := attacker.Flush(); err != nil {
		t.Fatal(err)
	}
	var forgedSeen int
	for i := 0; i < 1000; i++ { // bounded
		m, err := live.NextMsg(time.Second)
		if err != nil {
			break
		}
		if m.Subject == forged {
			forgedSeen++
			if jsstore.IsFeedWakeUp(m) {
				t.Errorf("a forged message passes for a wake-up: %s %s %s", m.Subject, fmtHeader(m.Header), m.Data)
			}
		} else if !jsstore.IsFeedWakeUp(m) {
			t.Errorf("a live message is not the feed's: %s %s %s", m.Subject, fmtHeader(m.Header), m.Data)
		}
	}
	if forgedSeen == 0 {
		t.Log("no forged message reached the raw subscription")
	}
	s.CreateToken("backend", "development") // one more stored event the follower must see
	last := s.LastSeq()
	servicetest.WaitFor(t, 15*time.Second, func() error {
		select {
		case err := <-done:
			t.Fatalf("FollowFeed stopped: %v", err)
		default:
		}
		mu.Lock()
		at := followedSeq
		mu.Unlock()
		if at < last {
			return fmt.Errorf("the follower is at sequence %d, the ledger at %d", at, last)
		}
		return nil
	})
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	for _, subj := range followed {
		if subj == forged {
			t.Fatalf("the follower delivered an event on the forged subject %s", forged)
		}
	}
}

func fmtHeader(h nats.Header) string {
	var b strings.Builder
	for k, v := range h {
		b.WriteString(k + "=" + strings.Join(v, ",") + ";")
	}
	return b.String()
}

// waitFeed waits (bounded) until the feed holds every token event of the
// ledger up to its sequence seq.
func waitFeed(t *testing.T, s *servicetest.Service, seq uint64) {
	t.Helper()
	var want uint64
	if err := s.Store.Replay(context.Background(), 1, seq, func(e events.Envelope) error {
		if e.AggregateKind == events.KindToken {
			want++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	servicetest.WaitFor(t, 15*time.Second, func() error {
		if st := feedDetail(t, s); st.State.Msgs < want {
			return fmt.Errorf("the feed holds %d events, want the %d token events up to ledger sequence %d", st.State.Msgs, want, seq)
		}
		return nil
	})
}
