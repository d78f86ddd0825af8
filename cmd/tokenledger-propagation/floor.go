package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/projections/feed"
	"github.com/tokenledger/tokenledger/projections/verifier"
)

// floor is what a revocation's propagation cannot beat on this machine:
// one fsynced JetStream publish (a stream stored like the ledger's,
// sync_interval always) republished to n plain subscribers, on a server
// of its own configured as the ledger's (the embedded nats-server with
// the ledger's accounts, reader permissions and admission front, in this
// process), measured interleaved with the revocations so that both see
// the same load. Its publisher is an in-process connection, as the
// ledger's; its subscribers sign in through the front with the reader's
// nkey, as the plain subscribers do.
type floor struct {
	srv      *server.Server
	front    *jsstore.Front
	pub      *nats.Conn
	js       jetstream.JetStream
	subs     []*nats.Conn
	arrivals chan arrival
	dir      string
	payload  []byte
	n        int
}

// startFloor starts the floor's server with n subscribers signed in as
// the reader whose nkey seed is in seedFile.
func startFloor(ctx context.Context, seedFile string, n int) (_ *floor, err error) {
	seed, err := os.ReadFile(seedFile)
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(seed))))
	if err != nil {
		return nil, fmt.Errorf("floor: reader seed: %w", err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("floor: reader seed: %w", err)
	}
	dir, err := os.MkdirTemp("", "tokenledger-propagation-floor-")
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	f := &floor{dir: dir, arrivals: make(chan arrival, 64*n), n: n}
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	owner, feedPW := rand.Text(), rand.Text() // throw-away passwords
	fcfg := jsstore.FrontConfig{Listen: "127.0.0.1:0"}
	f.srv, err = jsstore.StartEmbedded(ctx, jsstore.EmbeddedConfig{DataDir: dir, SyncAlways: true,
		OwnerPassword: owner, FeedPassword: feedPW, MaxConnections: fcfg.ServerConnections(),
		Readers: []jsstore.Reader{{NKey: pub}}})
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	if f.front, err = jsstore.OpenFront(f.srv, fcfg); err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	f.pub, err = nats.Connect("", nats.InProcessServer(f.srv), nats.UserInfo(jsstore.FeedUser, feedPW),
		nats.CustomInboxPrefix(jsstore.FeedInboxPrefix))
	if err != nil {
		return nil, fmt.Errorf("floor: connect: %w", err)
	}
	if f.js, err = jetstream.New(f.pub); err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	// The feed's own configuration, but fsynced per event like the
	// ledger's stream: the floor is one durable append, then delivery.
	cfg := jsstore.FeedStreamConfig()
	cfg.PersistMode = jetstream.DefaultPersistMode
	if _, err := f.js.CreateStream(ctx, cfg); err != nil {
		return nil, fmt.Errorf("floor: create stream: %w", err)
	}
	for range n {
		nc, err := dialRetrying(ctx, func() (*nats.Conn, error) {
			return verifier.Connection{URL: f.front.ClientURL(), NkeySeedFile: seedFile, Name: "propagation-floor"}.Dial()
		})
		if err != nil {
			return nil, fmt.Errorf("floor: %w", err)
		}
		f.subs = append(f.subs, nc)
		if _, err := nc.Subscribe("ledger.token.*.revoked", func(m *nats.Msg) {
			if feed.IsWakeUp(m) {
				arrive(f.arrivals, strings.Split(m.Subject, ".")[2])
			}
		}); err != nil {
			return nil, fmt.Errorf("floor: subscribe: %w", err)
		}
		if err := nc.Flush(); err != nil {
			return nil, fmt.Errorf("floor: %w", err)
		}
	}
	// About the size of a revocation's feed event.
	f.payload = []byte(`{"id":"` + strings.Repeat("0", 36) + `","type":"token.revoked","v":1,"kind":"token","aggregate":"` +
		strings.Repeat("0", 36) + `","time":"2026-01-01T00:00:00Z","actor":{"kind":"token","id":"` + strings.Repeat("0", 36) +
		`"},"via":{"credentialType":"api-token","credentialId":"` + strings.Repeat("0", 36) + `"},"reason":"deleted","data":{}}`)
	return f, nil
}

// sample publishes one event and returns the time until the last
// subscriber received it.
func (f *floor) sample(ctx context.Context, i int, timeout time.Duration) (time.Duration, error) {
	id := fmt.Sprintf("floor-%d", i)
	drain(f.arrivals)
	msg := nats.NewMsg(jsstore.FeedPublishPrefix + ".ledger.token." + id + ".revoked")
	msg.Data = f.payload
	msg.Header.Set(feed.LedgerSequenceHeader, fmt.Sprint(i+1))
	sent := time.Now()
	pctx, cancel := context.WithTimeout(ctx, timeout)
	_, err := f.js.PublishMsg(pctx, msg)
	cancel()
	if err != nil {
		return 0, fmt.Errorf("floor: publish: %w", err)
	}
	last, err := waitAll(ctx, f.arrivals, id, f.n, timeout)
	if err != nil {
		return 0, fmt.Errorf("floor: %w", err)
	}
	return last.Sub(sent), nil
}

// close stops the floor's server and removes its data.
func (f *floor) close() {
	for _, nc := range f.subs {
		nc.Close()
	}
	if f.pub != nil {
		f.pub.Close()
	}
	if f.front != nil {
		_ = f.front.Close()
	}
	if f.srv != nil {
		f.srv.Shutdown()
		f.srv.WaitForShutdown()
	}
	_ = os.RemoveAll(f.dir)
}
