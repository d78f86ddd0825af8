package verifier_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/internal/feedtest"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/projections/feed"
	"github.com/tokenledger/tokenledger/projections/verifier"
)

// The feed's signatures bind each event to its subject and ledger
// sequence, not to the event before it: nothing tells a verifier that a
// feed event is missing. Someone with the stopped data dir (here the feed
// user's rights stand in for it) rewrites the feed with every genuine,
// signed event but one token's revocation; the publisher resumes after
// the feed's last genuine event, so the revocation never comes back. A
// verifier that starts on that feed must not accept the revoked token: it
// must reject it, or fail closed (a feed it cannot prove whole).
func TestVerifierNeverAcceptsATokenWhoseRevocationWasCutFromTheFeed(t *testing.T) {
	l := feedtest.Start(t)
	a := l.Create(t, secretA, nil)
	rev := l.Revoke(t, a)
	b := l.Create(t, secretB, nil) // a later event, so the revocation is not the feed's end
	first := connect(t, l, verifier.Config{})
	waitApplied(t, first, b.Last)
	if _, err := first.Verify(secretA); !errors.Is(err, verifier.ErrRevoked) {
		t.Fatalf("before the rewrite: Verify = %v, want ErrRevoked", err)
	}
	l.StopPublisher(t)

	ctx := ctxFor(t)
	fc, err := nats.Connect(l.URL(), nats.UserInfo(jsstore.FeedUser, feedtest.FeedPassword), nats.CustomInboxPrefix(jsstore.FeedInboxPrefix))
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	js, err := jetstream.New(fc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, jsstore.FeedStream)
	if err != nil {
		t.Fatal(err)
	}
	var kept []*jetstream.RawStreamMsg
	cut := false
	for seq := uint64(1); seq <= st.CachedInfo().State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if m.Header.Get(feed.LedgerSequenceHeader) == strconv.FormatUint(rev, 10) {
			cut = true
			continue
		}
		kept = append(kept, m)
	}
	if !cut {
		t.Fatalf("the feed does not hold the revocation at ledger sequence %d", rev)
	}
	if err := js.DeleteStream(ctx, jsstore.FeedStream); err != nil {
		t.Fatal(err)
	}
	if err := jsstore.EnsureFeed(ctx, fc, nil); err != nil {
		t.Fatal(err)
	}
	for _, m := range kept {
		out := nats.NewMsg(jsstore.FeedPublishPrefix + "." + m.Subject)
		out.Data = m.Data
		for h, vs := range m.Header { // every header the publisher set, as stored
			if !strings.HasPrefix(h, "Nats-") {
				out.Header[h] = vs
			}
		}
		if _, err := js.PublishMsg(ctx, out); err != nil {
			t.Fatal(err)
		}
	}
	l.StartPublisher(t)

	v := connect(t, l, verifier.Config{})
	// Bounded: a verifier that refuses the rewritten feed never gets there.
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	waited := v.WaitFor(wctx, b.Last)
	cancel()
	if tok, err := v.Verify(secretA); err == nil {
		t.Fatalf("the token %s revoked at ledger sequence %d verifies on a feed its revocation was cut from (the other events genuine and signed; WaitFor(%d) = %v)",
			tok.ID, rev, b.Last, waited)
	} else {
		t.Logf("Verify = %v", err)
	}
}

// The chain the signatures carry skips what the verifier refuses: events
// planted in the feed (unsigned, the README's known gap) between two
// genuine ones do not break it, and the genuine revocation after them is
// applied (ErrRevoked, not a verifier failing closed for ever).
func TestVerifierChainSkipsEventsPlantedInTheFeed(t *testing.T) {
	l := feedtest.Start(t)
	a := l.Create(t, secretA, nil)
	v := connect(t, l, verifier.Config{})
	waitApplied(t, v, a.Last)
	fc, err := nats.Connect(l.URL(), nats.UserInfo(jsstore.FeedUser, feedtest.FeedPassword), nats.CustomInboxPrefix(jsstore.FeedInboxPrefix))
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	js, err := jetstream.New(fc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		m := nats.NewMsg(jsstore.FeedPublishPrefix + ".ledger.token.planted-" + strconv.Itoa(i) + ".created")
		m.Data = []byte(`{"planted":true}`)
		m.Header.Set(feed.LedgerSequenceHeader, strconv.FormatUint(a.Last+1, 10))
		m.Header.Set(feed.PreviousHeader, "0")
		if _, err := js.PublishMsg(ctxFor(t), m); err != nil {
			t.Fatal(err)
		}
	}
	rev := l.Revoke(t, a)
	if err := v.WaitFor(ctxFor(t), rev); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(secretA); !errors.Is(err, verifier.ErrRevoked) {
		t.Fatalf("after planted events and the genuine revocation: Verify = %v, want ErrRevoked", err)
	}
}
