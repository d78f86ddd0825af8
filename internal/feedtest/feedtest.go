// Package feedtest runs the NATS side of a real ledger for tests of the
// readers' feed and what follows it: the embedded server with the
// account layout on a loopback port, the ledger's store, the feed and its
// publisher, and one reader (an nkey user).
package feedtest

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
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
	// Key is the ledger's signing key, which signs the feed's events.
	Key *ledgerkey.Key

	srv   *server.Server
	fc    *nats.Conn // the feed user's connection
	conns []*nats.Conn
	stopP func() error
	errs  []error // the publisher's failures, seen at Stop
}

// Start starts a ledger on a fresh data dir and a free loopback port; it
// is stopped when the test ends.
func Start(tb testing.TB) *Ledger {
	tb.Helper()
	l, err := newLedger(tb.TempDir(), tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	l.Restart(tb)
	tb.Cleanup(func() {
		l.Stop()
		for _, err := range l.errs {
			tb.Error(err)
		}
	})
	return l
}

// Open starts a ledger as Start does, for code that has no testing.TB (a
// runnable example): its data dir and the reader's seed file go under dir,
// which must exist. Stop it with [Ledger.Stop] (which reports nothing).
func Open(dir string) (*Ledger, error) {
	l, err := newLedger(filepath.Join(dir, "data"), dir)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	if err := l.start(ctx); err != nil {
		l.Stop()
		return nil, err
	}
	return l, nil
}

// newLedger is a stopped ledger on data dir dataDir with a new reader
// whose seed file is in seedDir.
func newLedger(dataDir, seedDir string) (*Ledger, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("feedtest: reader key: %w", err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, fmt.Errorf("feedtest: reader seed: %w", err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("feedtest: reader public key: %w", err)
	}
	key, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		return nil, fmt.Errorf("feedtest: signing key: %w", err)
	}
	l := &Ledger{Dir: dataDir, Addr: "127.0.0.1:0", ReaderKey: pub, SeedFile: filepath.Join(seedDir, "reader.seed"), Key: key}
	if err := os.WriteFile(l.SeedFile, seed, 0o600); err != nil {
		return nil, fmt.Errorf("feedtest: write the reader's seed: %w", err)
	}
	return l, nil
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
	if err := l.start(Ctx(tb)); err != nil {
		l.Stop()
		tb.Fatal(err)
	}
}

// start starts the server, the store and the publisher.
func (l *Ledger) start(ctx context.Context) error {
	cfg := jsstore.EmbeddedConfig{DataDir: l.Dir, Listen: l.Addr, OwnerPassword: "owner-pw", FeedPassword: FeedPassword,
		Readers: []jsstore.Reader{{NKey: l.ReaderKey}}}
	srv, err := jsstore.StartEmbedded(ctx, cfg)
	if err != nil {
		return err
	}
	l.srv = srv
	l.Addr = srv.Addr().(*net.TCPAddr).String()
	connect := func(user, pw, inbox string) (*nats.Conn, error) {
		nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo(user, pw), nats.CustomInboxPrefix(inbox), nats.NoReconnect())
		if err != nil {
			return nil, fmt.Errorf("feedtest: connect as %s: %w", user, err)
		}
		l.conns = append(l.conns, nc)
		return nc, nil
	}
	owner, err := connect(jsstore.OwnerUser, "owner-pw", jsstore.OwnerInboxPrefix)
	if err != nil {
		return err
	}
	st, err := jsstore.Open(ctx, owner, jsstore.Config{OwnsServer: true})
	if err != nil {
		return err
	}
	l.Store = st
	fc, err := connect(jsstore.FeedUser, FeedPassword, jsstore.FeedInboxPrefix)
	if err != nil {
		return err
	}
	if err := jsstore.EnsureFeed(ctx, fc, nil); err != nil {
		return err
	}
	l.fc = fc
	l.startPublisher()
	return nil
}

// startPublisher runs the feed publisher until stopP.
func (l *Ledger) startPublisher() {
	pctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	pub := &jsstore.FeedPublisher{Store: l.Store, Conn: l.fc, RetryWait: 100 * time.Millisecond, Key: l.Key}
	go func() { done <- pub.Run(pctx) }()
	var once sync.Once
	var runErr error
	l.stopP = func() error {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				runErr = fmt.Errorf("feedtest: FeedPublisher.Run = %w", err)
			}
		})
		return runErr
	}
}

// StopPublisher stops the feed publisher alone (the server, the ledger
// and the feed stay up), as a publisher that can no longer follow the
// ledger would: the feed stops growing and its heartbeat stops.
func (l *Ledger) StopPublisher(tb testing.TB) {
	tb.Helper()
	if l.stopP == nil {
		return
	}
	if err := l.stopP(); err != nil {
		tb.Error(err)
	}
	l.stopP = nil
}

// StartPublisher starts the feed publisher again after StopPublisher.
func (l *Ledger) StartPublisher(tb testing.TB) {
	tb.Helper()
	if l.stopP != nil {
		tb.Fatal("feedtest: the publisher is running")
	}
	l.startPublisher()
}

// Stop shuts the ledger and its NATS server down (harmless twice). A
// publisher that failed is reported when the test ends (Start).
func (l *Ledger) Stop() {
	if l.srv == nil {
		return
	}
	if l.stopP != nil {
		if err := l.stopP(); err != nil {
			l.errs = append(l.errs, err)
		}
		l.stopP = nil
	}
	if l.Store != nil {
		_ = l.Store.Close()
	}
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
	seq, err := l.AppendEvent(Ctx(tb), tk, p)
	if err != nil {
		tb.Fatal(err)
	}
	return seq
}

// AppendEvent is Append without a testing.TB (for a runnable example): p
// as tk's next event, acted by a user through a personal token as the
// ledger's commands record it.
func (l *Ledger) AppendEvent(ctx context.Context, tk *Token, p events.Payload) (uint64, error) {
	env, err := events.New(storetest.NewEventID(), tk.ID, p, time.Now())
	if err != nil {
		return 0, fmt.Errorf("feedtest: new %s: %w", p.EventType(), err)
	}
	env.CommandID = storetest.NewEventID()
	env.Actor = events.Actor{Kind: events.ActorUser, ID: "42", Name: "Ada"}
	env.Via = events.Via{CredentialID: "pat-7", CredentialType: events.TokenPersonal, RemoteAddr: "127.0.0.1", RequestID: "req-1"}
	env.Prev = tk.Hash
	if err := env.Seal(); err != nil {
		return 0, fmt.Errorf("feedtest: seal %s: %w", p.EventType(), err)
	}
	stored, err := l.Store.Append(ctx, commands.Append{Event: env, Expected: tk.Last, MsgID: storetest.NewEventID()})
	if err != nil {
		return 0, fmt.Errorf("feedtest: append %s: %w", p.EventType(), err)
	}
	tk.Last, tk.Hash = stored.Seq, env.Hash
	return stored.Seq, nil
}

// CreateToken appends a token.created for secret (a client token of
// projects default and checkout in production, never expiring) without a
// testing.TB.
func (l *Ledger) CreateToken(ctx context.Context, secret string) (*Token, error) {
	p := storetest.TokenCreated()
	p.Verifier, p.ExpiresAt = events.VerifierHex(secret), nil
	tk := &Token{ID: storetest.NewAggregateID(), Secret: secret}
	if _, err := l.AppendEvent(ctx, tk, p); err != nil {
		return nil, err
	}
	return tk, nil
}

// Revoke appends tk's token.revoked (reason compromised) and returns its
// sequence.
func (l *Ledger) Revoke(tb testing.TB, tk *Token) uint64 {
	tb.Helper()
	return l.Append(tb, tk, events.TokenRevoked{Reason: events.ReasonCompromised})
}
