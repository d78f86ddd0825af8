package main

// Attacks on the readers' feed (LEDGER_TOKENS in account FEED) by an
// authenticated NATS reader, through the real service and its embedded
// listener.

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/internal/jsstore"
)

// A reader that follows token events must not learn the principals'
// personal data: the remote address and user agent of whoever created or
// revoked a token (issue 10 item 1: "a service following revocations needs
// token events, not principals' personal data").
func TestReaderDoesNotSeePrincipalsAddressesOrUserAgents(t *testing.T) {
	s := startWithReaders(t, "", nil)
	const ua = "Mozilla/5.0 (canary-user-agent-of-grace)"
	grace := s.createUser("grace", "Admin")
	s.must(http.StatusCreated, "POST", "/api/admin/api-tokens", grace.Secret,
		map[string]any{"tokenName": "by-grace", "type": "backend", "environment": "development"}, "User-Agent", ua)
	rd, _ := s.reader(t)
	var seen []string
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	want := s.lastSeq()
	err := jsstore.FollowFeed(ctx, rd, 1, func(e jsstore.FeedEvent) error {
		var env struct {
			Actor json.RawMessage `json:"actor"`
			Via   struct {
				RemoteAddr string `json:"remoteAddr"`
				UserAgent  string `json:"userAgent"`
			} `json:"via"`
		}
		if err := json.Unmarshal(e.Data, &env); err != nil {
			return err
		}
		if env.Via.RemoteAddr != "" || env.Via.UserAgent != "" {
			seen = append(seen, e.Subject+": remoteAddr="+env.Via.RemoteAddr+" userAgent="+env.Via.UserAgent)
		}
		if e.Sequence >= want {
			cancel()
		}
		return nil
	})
	if ctx.Err() == nil {
		t.Fatalf("FollowFeed = %v", err)
	}
	if len(seen) > 0 {
		t.Fatalf("a NATS reader sees principals' remote addresses and user agents in token events:\n%s", strings.Join(seen, "\n"))
	}
}

// Only stored token events may arrive on ledger.token.> in the readers'
// account. A reader cannot publish there, but it may set any reply subject
// on a Direct Get request, and JetStream publishes the answer there: every
// other reader following ledger.token.> then receives messages the feed
// never stored, on subjects of the attacker's choosing (here a revocation
// of a token that does not exist), with the Nats-Sequence header of a
// republished event. One small request fans out to every reader.
func TestReaderCannotForgeLiveFeedEvents(t *testing.T) {
	s := startWithReaders(t, "", nil)
	s.createToken("backend", "development")
	victim, _ := s.reader(t)
	live, err := victim.SubscribeSync(jsstore.FeedSubjects)
	if err != nil {
		t.Fatal(err)
	}
	if err := victim.Flush(); err != nil {
		t.Fatal(err)
	}
	attacker, _ := s.reader(t)
	waitFeed(t, s, s.lastSeq())
	const forged = "ledger.token.00000000-0000-0000-0000-00000000dead.revoked"
	req := nats.NewMsg("$JS.API.DIRECT.GET." + jsstore.FeedStream)
	req.Reply = forged
	req.Data = []byte(`{"seq":1,"batch":1000}`)
	if err := attacker.PublishMsg(req); err != nil {
		t.Fatal(err)
	}
	if err := attacker.Flush(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := 0; i < 1000; i++ { // bounded
		m, err := live.NextMsg(time.Second)
		if err != nil {
			break
		}
		if m.Subject == forged {
			got = append(got, m.Subject+" "+fmtHeader(m.Header)+" "+string(m.Data))
		}
	}
	if len(got) > 0 {
		t.Fatalf("a reader made the server deliver %d message(s) the feed never stored to every follower of %s, e.g. %s",
			len(got), jsstore.FeedSubjects, got[0])
	}
}

func fmtHeader(h nats.Header) string {
	var b strings.Builder
	for k, v := range h {
		b.WriteString(k + "=" + strings.Join(v, ",") + ";")
	}
	return b.String()
}

// waitFeed waits (bounded) until the feed mirrored the ledger up to seq.
func waitFeed(t *testing.T, s *testService, seq uint64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := feedDetail(t, s)
		if st.State.LastSeq >= seq {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the feed did not reach sequence %d (at %d)", seq, st.State.LastSeq)
		}
		time.Sleep(20 * time.Millisecond) // poll interval, not an assertion
	}
}
