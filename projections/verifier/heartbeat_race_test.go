package verifier_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/feedtest"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/projections/feed"
	"github.com/tokenledger/tokenledger/projections/verifier"
)

// The publisher beats right after it publishes, and the heartbeat and the
// event's live copy reach a verifier on two subscriptions whose callbacks
// race: a heartbeat often announces an event whose live copy is a moment
// behind it. The verifier must then wait for that copy, not read the feed
// (a Direct Get per verifier per event, which the ledger's server and its
// front pay for); it reads only when a later heartbeat finds the event
// still missing. Here the heartbeat comes first by construction (the
// publisher is stopped; the test publishes as it would, signed with the
// ledger's key).
func TestVerifierWaitsForTheLiveEventAHeartbeatOvertook(t *testing.T) {
	l := feedtest.Start(t)
	tk := l.Create(t, secretA, nil)
	nc, err := connection(l).Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	v := verifier.Start(nc, verifier.Config{Poll: time.Hour, MaxStaleness: time.Hour})
	defer func() { _ = v.Close() }()
	waitApplied(t, v, tk.Last)
	l.StopPublisher(t)
	created := tk.Last     // the feed's last event: its ledger sequence
	rev := l.Revoke(t, tk) // in the ledger; the test publishes its feed copy
	fc, err := nats.Connect(l.URL(), nats.UserInfo(jsstore.FeedUser, feedtest.FeedPassword), nats.CustomInboxPrefix(jsstore.FeedInboxPrefix))
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	if err := fc.Flush(); err != nil {
		t.Fatal(err)
	}
	before := nc.Stats().OutMsgs

	// The heartbeat announcing the revocation's feed sequence (2: the
	// feed holds the creation), then the revocation's feed copy.
	beatAt(t, l, fc, rev, 2)
	var env events.Envelope
	if err := l.Store.Replay(ctxFor(t), rev, rev, func(e events.Envelope) error { env = e; return nil }); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(feed.NewEnvelope(&env))
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(jsstore.FeedPublishPrefix + "." + env.Subject())
	m.Data = data
	m.Header.Set(feed.LedgerSequenceHeader, strconv.FormatUint(rev, 10))
	m.Header.Set(feed.KeyHeader, l.Key.ID())
	m.Header.Set(feed.PreviousHeader, strconv.FormatUint(created, 10))
	m.Header.Set(feed.SignatureHeader, base64.StdEncoding.EncodeToString(l.Key.Sign(feed.ChainedSignedBytes(env.Subject(), rev, created, data))))
	js, err := jetstream.New(fc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.PublishMsg(ctxFor(t), m); err != nil {
		t.Fatal(err)
	}

	if err := v.WaitFor(ctxFor(t), rev); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(secretA); err == nil {
		t.Fatal("the revoked token still verifies")
	}
	if sent := nc.Stats().OutMsgs - before; sent != 0 {
		t.Fatalf("the verifier sent %d requests (Direct Gets) for an event whose live copy came a moment after its heartbeat, want none", sent)
	}
}

// A heartbeat that announces an event the verifier has not applied, after
// an earlier one announced it too, makes the verifier read the feed: the
// event's live copy was lost.
func TestVerifierReadsTheFeedWhenASecondHeartbeatFindsAnEventMissing(t *testing.T) {
	l := feedtest.Start(t)
	tk := l.Create(t, secretA, nil)
	nc, err := connection(l).Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	v := verifier.Start(nc, verifier.Config{Poll: time.Hour, MaxStaleness: time.Hour})
	defer func() { _ = v.Close() }()
	waitApplied(t, v, tk.Last)
	l.StopPublisher(t)
	rev := l.Revoke(t, tk)
	fc, err := nats.Connect(l.URL(), nats.UserInfo(jsstore.FeedUser, feedtest.FeedPassword), nats.CustomInboxPrefix(jsstore.FeedInboxPrefix))
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	before := nc.Stats().OutMsgs
	beatAt(t, l, fc, rev, 2) // feed sequence 2 is never published
	beatAt(t, l, fc, rev, 2)
	eventually(t, "the verifier reads the feed", func() error {
		if nc.Stats().OutMsgs == before {
			return errors.New("no request sent")
		}
		return nil
	})
}

// beatAt publishes, as the ledger's publisher would, a heartbeat saying
// that the feed holds every event up to ledger sequence seq at feed
// sequence fseq.
func beatAt(t *testing.T, l *feedtest.Ledger, fc *nats.Conn, seq, fseq uint64) {
	t.Helper()
	beat, err := json.Marshal(feed.Heartbeat{LedgerSequence: seq, FeedSequence: fseq, Time: time.Now().UTC(), VerifierKey: l.Key.VerifierKey()})
	if err != nil {
		t.Fatal(err)
	}
	hb := nats.NewMsg(feed.HeartbeatSubject)
	hb.Data = beat
	hb.Header.Set(feed.KeyHeader, l.Key.ID())
	hb.Header.Set(feed.SignatureHeader, base64.StdEncoding.EncodeToString(l.Key.Sign(feed.HeartbeatSignedBytes(beat))))
	if err := fc.PublishMsg(hb); err != nil {
		t.Fatal(err)
	}
	if err := fc.Flush(); err != nil {
		t.Fatal(err)
	}
}
