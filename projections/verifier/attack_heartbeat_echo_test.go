package verifier_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/feedtest"
	"github.com/tokenledger/tokenledger/projections/feed"
	"github.com/tokenledger/tokenledger/projections/verifier"
)

// echoStaleness is the verifier's staleness bound in the heartbeat echo
// test, and echoWindow how long the attack runs: several bounds, so that a
// verifier that merely notices late still fails closed within it.
const (
	echoStaleness = 1500 * time.Millisecond
	echoWindow    = 4 * echoStaleness
)

// The heartbeat is what tells a verifier that the feed publisher still
// follows the ledger (README: "a stalled publisher does not [beat]").
// Readers may not publish on its subject, but any reader can make the
// server publish for it: a Direct Get of a stored feed event with the
// heartbeat subject as its reply subject (with or without the stored
// headers: "no_hdr") reaches every subscriber in the reader's account,
// so every verifier sharing that reader's credentials. The echoed event's
// JSON decodes as a heartbeat announcing feed sequence 0, which every
// verifier has applied. With the publisher stalled (it stopped following
// the ledger) and a token revoked in the ledger, the verifier must fail
// closed once the bound passes, however many such echoes it hears: it
// must never go on accepting the revoked token.
func TestVerifierFailsClosedWhenAReaderEchoesAFeedEventOnTheHeartbeatSubject(t *testing.T) {
	cases := []struct{ name, request string }{
		{"stored_headers", `{"seq":1}`},
		{"no_headers", `{"seq":1,"no_hdr":true}`},
		{"batch", `{"seq":1,"batch":1}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := feedtest.Start(t)
			tk := l.Create(t, secretA, nil)
			v := connect(t, l, verifier.Config{MaxStaleness: echoStaleness, Poll: 100 * time.Millisecond})
			waitApplied(t, v, tk.Last)
			eventually(t, "a heartbeat is heard", func() error {
				if v.Stats().HeartbeatAt.IsZero() {
					return errors.New("no heartbeat yet")
				}
				return nil
			})
			l.StopPublisher(t)
			rev := l.Revoke(t, tk) // in the ledger, never in the feed

			attacker := l.Reader(t) // the reader's own credentials, another connection
			deadline := time.Now().Add(echoWindow)
			for i := 0; time.Now().Before(deadline) && i < 1000; i++ {
				if err := attacker.PublishRequest("$JS.API.DIRECT.GET."+feed.Stream, feed.HeartbeatSubject, []byte(tc.request)); err != nil {
					t.Fatal(err)
				}
				if err := attacker.Flush(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(100 * time.Millisecond) // the attacker's pace, not an assertion
			}
			if _, err := v.Verify(secretA); err == nil {
				t.Fatalf("the token revoked at ledger sequence %d still verifies %s after the publisher stopped: echoed feed events pass for heartbeats (stats %+v)",
					rev, echoWindow, v.Stats())
			} else if !errors.Is(err, verifier.ErrStale) {
				t.Fatalf("Verify = %v, want %v", err, verifier.ErrStale)
			}
		})
	}
}
