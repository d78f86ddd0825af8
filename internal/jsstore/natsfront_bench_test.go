package jsstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/storetest"
)

// BenchmarkReaderDirectGet measures a reader's single Direct Get of a feed
// event (a request and its answer) through the front, and through the
// same server's own TCP listener, in the same run:
//
//	go test -run '^$' -bench ReaderDirectGet -count 6 ./internal/jsstore/
func BenchmarkReaderDirectGet(b *testing.B) {
	const events = 100
	srv, front := startReaderBench(b, events)
	for _, bb := range []struct{ name, url string }{
		{"listener=server", srv.ClientURL()},
		{"listener=front", front.ClientURL()},
	} {
		b.Run(bb.name, func(b *testing.B) {
			nc, err := nats.Connect(bb.url, nats.UserInfo(readerName, readerPW))
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			subject := "$JS.API.DIRECT.GET." + jsstore.FeedStream
			reqs := make([][]byte, events)
			for i := range reqs {
				reqs[i] = fmt.Appendf(nil, `{"seq":%d}`, i+1)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m, err := nc.Request(subject, reqs[i%events], 5*time.Second)
				if err != nil {
					b.Fatal(err)
				}
				if m.Header.Get("Nats-Sequence") == "" {
					b.Fatalf("no event: %v %q", m.Header, m.Data)
				}
			}
		})
	}
}

// startReaderBench starts an embedded server listening on loopback itself
// and behind a front, with the feed holding n events and the test reader.
func startReaderBench(b *testing.B, n int) (*server.Server, *jsstore.Front) {
	b.Helper()
	ctx := context.Background()
	hash, err := bcrypt.GenerateFromPassword([]byte(readerPW), bcrypt.MinCost)
	if err != nil {
		b.Fatal(err)
	}
	fcfg := jsstore.FrontConfig{Listen: "127.0.0.1:0"}
	srv, err := jsstore.StartEmbedded(ctx, jsstore.EmbeddedConfig{DataDir: b.TempDir(), Listen: "127.0.0.1:0",
		OwnerPassword: "owner-pw", FeedPassword: "feed-pw", MaxConnections: fcfg.ServerConnections(),
		Readers: []jsstore.Reader{{Name: readerName, PasswordHash: string(hash)}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	owner, err := nats.Connect("", nats.InProcessServer(srv), nats.UserInfo(jsstore.OwnerUser, "owner-pw"), nats.CustomInboxPrefix(jsstore.OwnerInboxPrefix))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(owner.Close)
	st, err := jsstore.Open(ctx, owner, jsstore.Config{OwnsServer: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	feed, err := nats.Connect("", nats.InProcessServer(srv), nats.UserInfo(jsstore.FeedUser, "feed-pw"), nats.CustomInboxPrefix(jsstore.FeedInboxPrefix))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(feed.Close)
	if err := jsstore.EnsureFeed(ctx, feed, nil); err != nil {
		b.Fatal(err)
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- (&jsstore.FeedPublisher{Store: st, Conn: feed, RetryWait: 100 * time.Millisecond}).Run(pctx)
	}()
	b.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			b.Errorf("FeedPublisher.Run = %v", err)
		}
	})
	for range n {
		e := storetest.Event(b, storetest.NewAggregateID(), storetest.TokenCreated(), "")
		if _, err := st.Append(ctx, commands.Append{Event: e, MsgID: storetest.NewEventID()}); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for feedLen(b, srv) < uint64(n) {
		if time.Now().After(deadline) {
			b.Fatalf("the feed does not hold %d events", n)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
	front, err := jsstore.OpenFront(srv, fcfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = front.Close() })
	return srv, front
}

// feedLen is the number of messages in the feed stream.
func feedLen(tb testing.TB, srv *server.Server) uint64 {
	jsz, err := srv.Jsz(&server.JSzOptions{Accounts: true, Streams: true})
	if err != nil {
		tb.Fatal(err)
	}
	for _, a := range jsz.AccountDetails {
		for _, s := range a.Streams {
			if s.Name == jsstore.FeedStream {
				return s.State.Msgs
			}
		}
	}
	return 0
}
