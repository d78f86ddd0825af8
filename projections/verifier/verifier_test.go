package verifier_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/feedtest"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/projections/feed"
	"github.com/tokenledger/tokenledger/projections/verifier"
)

const (
	secretA = "default:production.verifier-test-secret-a-0123456789abcdef"
	secretB = "default:production.verifier-test-secret-b-0123456789abcdef"
)

// A verifier rejects a token as soon as the ledger acknowledged its
// revocation and the verifier reached that ledger sequence; when its
// OnRevoke hook runs, Verify already rejects the token.
func TestVerifierRejectsTokenOnceRevocationIsApplied(t *testing.T) {
	l := feedtest.Start(t)
	a := l.Create(t, secretA, nil)
	var hookSaw atomic.Value
	var v *verifier.Verifier
	ready := make(chan struct{})
	v = connect(t, l, verifier.Config{OnRevoke: func(c verifier.Change) {
		<-ready
		_, err := v.Verify(secretA)
		hookSaw.Store(fmt.Sprintf("%s %s %v", c.Token.ID, c.Reason, err))
	}})
	close(ready)
	waitApplied(t, v, a.Last)
	if tok, err := v.Verify(secretA); err != nil || tok.ID != a.ID {
		t.Fatalf("before the revocation: Verify = %v, %v; want token %s", tok, err, a.ID)
	}
	seq := l.Revoke(t, a)
	if err := v.WaitFor(ctxFor(t), seq); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(secretA); !errors.Is(err, verifier.ErrRevoked) {
		t.Fatalf("after the revocation: Verify = %v, want ErrRevoked", err)
	}
	want := fmt.Sprintf("%s %s %v", a.ID, events.ReasonCompromised, verifier.ErrRevoked)
	if got, _ := hookSaw.Load().(string); got != want {
		t.Fatalf("OnRevoke saw %q, want %q", got, want)
	}
	if _, err := v.Verify("default:production.never-created"); !errors.Is(err, verifier.ErrUnknown) {
		t.Fatalf("unknown secret: Verify = %v, want ErrUnknown", err)
	}
}

// Verify checks the expiry moment itself: a token whose expiry passed
// fails before any token.expired is recorded; the OnExpire hook fires for
// the recorded event.
func TestVerifierRejectsExpiredTokenBeforeExpiryIsRecorded(t *testing.T) {
	l := feedtest.Start(t)
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	a := l.Create(t, secretA, &exp)
	var clock atomic.Int64
	clock.Store(exp.Add(-time.Second).UnixNano())
	expired := make(chan verifier.Change, 2)
	v := connect(t, l, verifier.Config{Now: func() time.Time { return time.Unix(0, clock.Load()) },
		OnExpire: func(c verifier.Change) { expired <- c }})
	waitApplied(t, v, a.Last)
	if _, err := v.Verify(secretA); err != nil {
		t.Fatalf("a second before its expiry: Verify = %v", err)
	}
	clock.Store(exp.UnixNano())
	if _, err := v.Verify(secretA); !errors.Is(err, verifier.ErrExpired) {
		t.Fatalf("at its expiry, nothing recorded: Verify = %v, want ErrExpired", err)
	}
	seq := l.Append(t, a, events.TokenExpired{ExpiresAt: exp})
	select {
	case c := <-expired:
		if c.Token.ID != a.ID || c.LedgerSequence != seq || c.Replayed {
			t.Fatalf("OnExpire got %+v, want token %s at ledger sequence %d, live", c, a.ID, seq)
		}
	case <-ctxFor(t).Done():
		t.Fatal("OnExpire not called")
	}
}

// A verifier closed mid-stream and started again replays the feed and
// misses no revocation made while it was down.
func TestVerifierRestartedMidStreamMissesNoRevocation(t *testing.T) {
	l := feedtest.Start(t)
	a, b := l.Create(t, secretA, nil), l.Create(t, secretB, nil)
	v, err := verifier.Connect(connection(l), verifier.Config{})
	if err != nil {
		t.Fatal(err)
	}
	waitApplied(t, v, b.Last)
	if _, err := v.Verify(secretA); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	l.Revoke(t, a)
	seq := l.Revoke(t, b)

	v = connect(t, l, verifier.Config{})
	waitApplied(t, v, seq)
	if st := v.Stats(); st.LedgerSequence != seq || st.FeedSequence != 4 || st.Tokens != 2 {
		t.Fatalf("after the restart: %+v, want ledger sequence %d, feed sequence 4, 2 tokens", st, seq)
	}
	for _, s := range []string{secretA, secretB} {
		if _, err := v.Verify(s); !errors.Is(err, verifier.ErrRevoked) {
			t.Errorf("Verify = %v, want ErrRevoked", err)
		}
	}
}

// A second copy of a ledger event in the feed (planted, or published
// twice) changes nothing and calls no hook again.
func TestVerifierAppliesDuplicateFeedEventOnce(t *testing.T) {
	l := feedtest.Start(t)
	a := l.Create(t, secretA, nil)
	var revocations atomic.Int32
	v := connect(t, l, verifier.Config{OnRevoke: func(verifier.Change) { revocations.Add(1) }})
	waitApplied(t, v, a.Last)
	seq := l.Revoke(t, a)
	if err := v.WaitFor(ctxFor(t), seq); err != nil {
		t.Fatal(err)
	}
	// Publish the revocation's feed copy again, as only the ledger's feed
	// user can.
	fc, err := nats.Connect(l.URL(), nats.UserInfo(jsstore.FeedUser, feedtest.FeedPassword), nats.CustomInboxPrefix(jsstore.FeedInboxPrefix))
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	copyOf := lastFeedEvent(t, v, l.Reader(t))
	m := nats.NewMsg(jsstore.FeedPublishPrefix + "." + copyOf.Subject)
	m.Data = copyOf.Data
	m.Header.Set(feed.LedgerSequenceHeader, fmt.Sprint(copyOf.LedgerSequence))
	if _, err := fc.RequestMsg(m, testWait); err != nil {
		t.Fatal(err)
	}
	// A later event shows the verifier went past the copy.
	b := l.Create(t, secretB, nil)
	if err := v.WaitFor(ctxFor(t), b.Last); err != nil {
		t.Fatal(err)
	}
	if st := v.Stats(); st.FeedSequence != 4 {
		t.Fatalf("feed sequence %d, want 4 (created, revoked, its copy, created)", st.FeedSequence)
	}
	if n := revocations.Load(); n != 1 {
		t.Fatalf("OnRevoke called %d times, want 1", n)
	}
	if _, err := v.Verify(secretB); err != nil {
		t.Fatalf("the token created after the copy: Verify = %v", err)
	}
}

// lastFeedEvent reads the feed event v handled last with feed.Follow on
// rd, a reader's connection.
func lastFeedEvent(t *testing.T, v *verifier.Verifier, rd *nats.Conn) feed.Event {
	t.Helper()
	want := v.Stats().FeedSequence
	ctx := ctxFor(t)
	var got feed.Event
	stop := errors.New("stop")
	err := feed.Follow(ctx, rd, want, func(e feed.Event) error { got = e; return stop })
	if !errors.Is(err, stop) || got.Sequence != want {
		t.Fatalf("read feed sequence %d: %v (got %d)", want, err, got.Sequence)
	}
	return got
}

// When NATS goes away the verifier fails closed once the staleness bound
// passed, and verifies again (revocations made meanwhile included) when
// NATS is back.
func TestVerifierFailsClosedWhileFeedIsLostAndRecovers(t *testing.T) {
	l := feedtest.Start(t)
	a := l.Create(t, secretA, nil)
	b := l.Create(t, secretB, nil)
	var mu sync.Mutex
	var reported []error
	v := connect(t, l, verifier.Config{MaxStaleness: 400 * time.Millisecond, OnError: func(err error) {
		mu.Lock()
		reported = append(reported, err)
		mu.Unlock()
	}})
	waitApplied(t, v, b.Last)
	if _, err := v.Verify(secretA); err != nil {
		t.Fatal(err)
	}
	l.Stop()
	eventually(t, "Verify fails closed", func() error {
		if _, err := v.Verify(secretA); !errors.Is(err, verifier.ErrStale) {
			return fmt.Errorf("Verify = %v, want ErrStale", err)
		}
		return nil
	})
	if st := v.Stats(); max(st.Staleness, st.HeartbeatAge) <= 400*time.Millisecond || st.LastEventAge <= 0 {
		t.Fatalf("stale verifier's stats: %+v", st)
	}
	l.Restart(t) // same data dir, same port
	seq := l.Revoke(t, a)
	if err := v.WaitFor(ctxFor(t), seq); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Verify answers again", func() error {
		_, err := v.Verify(secretB)
		return err
	})
	if _, err := v.Verify(secretA); !errors.Is(err, verifier.ErrRevoked) {
		t.Fatalf("token revoked while the verifier was cut off: Verify = %v, want ErrRevoked", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) == 0 {
		t.Error("the lost feed was not reported to OnError")
	}
	for _, err := range reported {
		if err == nil || strings.Contains(err.Error(), secretA) || strings.Contains(err.Error(), secretB) {
			t.Errorf("reported %v", err)
		}
	}
}

// A publisher that stops following the ledger while NATS stays up (its
// disk cap reached, the ledger stopped at a tampered event) leaves a feed
// that still reads to its end, but no longer holds every revocation: its
// heartbeat stops, and the verifier fails closed once the staleness bound
// passes; it answers again when the publisher returns.
func TestVerifierFailsClosedWhenThePublisherStopsBeating(t *testing.T) {
	l := feedtest.Start(t)
	a := l.Create(t, secretA, nil)
	v := connect(t, l, verifier.Config{MaxStaleness: 1500 * time.Millisecond, Poll: 100 * time.Millisecond})
	waitApplied(t, v, a.Last)
	eventually(t, "a heartbeat is heard", func() error {
		if v.Stats().HeartbeatAt.IsZero() {
			return errors.New("no heartbeat yet")
		}
		return nil
	})
	if _, err := v.Verify(secretA); err != nil {
		t.Fatalf("with the publisher beating: Verify = %v", err)
	}
	l.StopPublisher(t)
	eventually(t, "Verify fails closed", func() error {
		if _, err := v.Verify(secretA); !errors.Is(err, verifier.ErrStale) {
			return fmt.Errorf("Verify = %v, want ErrStale", err)
		}
		return nil
	})
	if st := v.Stats(); st.Staleness > 1500*time.Millisecond || st.HeartbeatAge <= 1500*time.Millisecond {
		t.Fatalf("the feed is read to its end but not beating: stats %+v", st)
	}
	l.StartPublisher(t)
	eventually(t, "Verify answers again", func() error {
		_, err := v.Verify(secretA)
		return err
	})
}

// IgnoreHeartbeat keeps a verifier answering from a feed whose publisher
// is silent (a feed without a tokenledger publisher).
func TestVerifierIgnoringHeartbeatAnswersWithoutOne(t *testing.T) {
	l := feedtest.Start(t)
	a := l.Create(t, secretA, nil)
	v := connect(t, l, verifier.Config{MaxStaleness: 500 * time.Millisecond, Poll: 50 * time.Millisecond, IgnoreHeartbeat: true})
	waitApplied(t, v, a.Last)
	l.StopPublisher(t)
	time.Sleep(time.Second) // past the bound: the heartbeat would have failed it closed
	if _, err := v.Verify(secretA); err != nil {
		t.Fatalf("Verify = %v, want the token", err)
	}
}

// A verifier given the ledger's keys (LedgerKeys) trusts no other: when
// the ledger's heartbeat announces a key it was not given (the ledger
// rotated, or the feed is not that ledger's), Verify fails closed rather
// than answer from a set it can no longer keep whole; given the right
// key it answers.
func TestVerifierPinnedToTheLedgersKeysFailsClosedOnAnother(t *testing.T) {
	l := feedtest.Start(t)
	a := l.Create(t, secretA, nil)
	other, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		keys []string
		want error
	}{
		{"the_ledgers_key", []string{l.Key.VerifierKey()}, nil},
		{"another_key", []string{other.VerifierKey()}, verifier.ErrKeyNotTrusted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := connect(t, l, verifier.Config{LedgerKeys: tc.keys, Poll: 50 * time.Millisecond})
			eventually(t, "Verify settles", func() error {
				if _, err := v.Verify(secretA); !errors.Is(err, tc.want) {
					return fmt.Errorf("Verify = %v, want %v", err, tc.want)
				}
				return nil
			})
			if tc.want == nil {
				if tok, _ := v.Verify(secretA); tok.ID != a.ID {
					t.Fatalf("Verify = %+v, want token %s", tok, a.ID)
				}
			} else if v.Tokens().Len() != 0 {
				t.Fatalf("events signed by a key the verifier was not given were applied: %d tokens", v.Tokens().Len())
			}
		})
	}
}
