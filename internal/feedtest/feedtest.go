// Package feedtest runs the NATS side of a real ledger for tests of the
// readers' feed and what follows it: the embedded server with the
// account layout on a loopback port, the ledger's store, the feed and its
// publisher, and one reader (an nkey user).
package feedtest

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/storetest"
)

// Wait bounds every wait of the kit (a hang fails, never a slow run).
const Wait = 30 * time.Second

// FeedPassword is the password of the ledger's feed user (jsstore.FeedUser)
// in a kit ledger: tests use it to plant feed events as only the ledger
// could.
const FeedPassword = "feed-pw"

// Ledger is a running ledger's NATS side.
type Ledger struct {
	// Dir is the data dir; Addr the listener (the port of the first start,
	// kept by Restart).
	Dir, Addr string
	// SeedFile holds the reader's nkey seed; ReaderKey is its public key.
	SeedFile, ReaderKey string
	// Store is the ledger's store (replaced by Restart).
	Store *jsstore.Store

	srv   *server.Server
	conns []*nats.Conn
	stopP func()
}

// Start starts a ledger on a fresh data dir and a free loopback port; it
// is stopped when the test ends.
func Start(tb testing.TB) *Ledger {
	tb.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		tb.Fatal(err)
	}
	seed, err := kp.Seed()
	if err != nil {
		tb.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		tb.Fatal(err)
	}
	l := &Ledger{Dir: tb.TempDir(), Addr: "127.0.0.1:0", ReaderKey: pub, SeedFile: filepath.Join(tb.TempDir(), "reader.seed")}
	if err := os.WriteFile(l.SeedFile, seed, 0o600); err != nil {
		tb.Fatal(err)
	}
	l.Restart(tb)
	tb.Cleanup(l.Stop)
	return l
}

// Ctx is a context ending after Wait or with the test.
func Ctx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	tb.Cleanup(cancel)
	return ctx
}

// Restart starts the server (on l.Addr), the store and the feed publisher
// of a stopped ledger, on the same data dir.
func (l *Ledger) Restart(tb testing.TB) {
	tb.Helper()
	ctx := Ctx(tb)
	cfg := jsstore.EmbeddedConfig{DataDir: l.Dir, Listen: l.Addr, OwnerPassword: "owner-pw", FeedPassword: FeedPassword,
		Readers: []jsstore.Reader{{NKey: l.ReaderKey}}}
	srv, err := jsstore.StartEmbedded(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	l.srv = srv
	l.Addr = srv.Addr().(*net.TCPAddr).String()
	connect := func(user, pw, inbox string) *nats.Conn {
		nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo(user, pw), nats.CustomInboxPrefix(inbox), nats.NoReconnect())
		if err != nil {
			tb.Fatal(err)
		}
		l.conns = append(l.conns, nc)
		return nc
	}
	owner := connect(jsstore.OwnerUser, "owner-pw", jsstore.OwnerInboxPrefix)
	st, err := jsstore.Open(ctx, owner, jsstore.Config{OwnsServer: true})
	if err != nil {
		tb.Fatal(err)
	}
	l.Store = st
	fc := connect(jsstore.FeedUser, FeedPassword, jsstore.FeedInboxPrefix)
	if err := jsstore.EnsureFeed(ctx, fc, nil); err != nil {
		tb.Fatal(err)
	}
	pctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	pub := &jsstore.FeedPublisher{Store: st, Conn: fc, RetryWait: 100 * time.Millisecond}
	go func() { done <- pub.Run(pctx) }()
	var once sync.Once
	l.stopP = func() {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				tb.Errorf("feedtest: FeedPublisher.Run = %v", err)
			}
		})
	}
}

// Stop shuts the ledger and its NATS server down (harmless twice).
func (l *Ledger) Stop() {
	if l.srv == nil {
		return
	}
	l.stopP()
	_ = l.Store.Close()
	for _, nc := range l.conns {
		nc.Close()
	}
	l.conns = nil
	l.srv.Shutdown()
	l.srv.WaitForShutdown()
	l.srv = nil
}

// URL is the NATS URL readers connect to.
func (l *Ledger) URL() string { return "nats://" + l.Addr }

// Reader is a plain connection as the reader, closed when the test ends.
func (l *Ledger) Reader(tb testing.TB) *nats.Conn {
	tb.Helper()
	opt, err := nats.NkeyOptionFromSeed(l.SeedFile)
	if err != nil {
		tb.Fatal(err)
	}
	nc, err := nats.Connect(l.URL(), opt)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// Token is a token a test created in the ledger.
type Token struct {
	ID, Secret string
	// Last is the ledger sequence of its last event, Hash that event's.
	Last uint64
	Hash string
}

// Create appends a token.created for secret (a client token of projects
// default and checkout in production), expiring at exp when set.
func (l *Ledger) Create(tb testing.TB, secret string, exp *time.Time) *Token {
	tb.Helper()
	p := storetest.TokenCreated()
	p.Verifier, p.ExpiresAt = events.VerifierHex(secret), exp
	tk := &Token{ID: storetest.NewAggregateID(), Secret: secret}
	l.Append(tb, tk, p)
	return tk
}

// CreateWith is Create with the token.created payload changed by change
// first (its verifier is secret's): a token of other projects, another
// environment or an owner.
func (l *Ledger) CreateWith(tb testing.TB, secret string, change func(*events.TokenCreated)) *Token {
	tb.Helper()
	p := storetest.TokenCreated()
	p.Verifier = events.VerifierHex(secret)
	change(&p)
	tk := &Token{ID: storetest.NewAggregateID(), Secret: secret}
	l.Append(tb, tk, p)
	return tk
}

// Delete appends the deletion of the project, environment, user or
// service account id (p is events.ProjectDeleted{}, …), as the first event
// of that aggregate, and returns its ledger sequence once acknowledged.
func (l *Ledger) Delete(tb testing.TB, id string, p events.Payload) uint64 {
	tb.Helper()
	return l.Append(tb, &Token{ID: id}, p)
}

// Append appends p as tk's next event (tk is any aggregate: p's kind
// decides) and returns its ledger sequence once the ledger acknowledged
// it.
func (l *Ledger) Append(tb testing.TB, tk *Token, p events.Payload) uint64 {
	tb.Helper()
	env := storetest.Event(tb, tk.ID, p, tk.Hash)
	stored, err := l.Store.Append(Ctx(tb), commands.Append{Event: env, Expected: tk.Last, MsgID: storetest.NewEventID()})
	if err != nil {
		tb.Fatalf("feedtest: append %s: %v", p.EventType(), err)
	}
	tk.Last, tk.Hash = stored.Seq, env.Hash
	return stored.Seq
}

// Revoke appends tk's token.revoked (reason compromised) and returns its
// sequence.
func (l *Ledger) Revoke(tb testing.TB, tk *Token) uint64 {
	tb.Helper()
	return l.Append(tb, tk, events.TokenRevoked{Reason: events.ReasonCompromised})
}
