package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/bootstrap"
	"github.com/tokenledger/tokenledger/internal/expiry"
	"github.com/tokenledger/tokenledger/internal/httpapi"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/projections"
	"github.com/tokenledger/tokenledger/projections/auditlog"
	"github.com/tokenledger/tokenledger/projections/directory"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// Main is the running service: embedded (or external) NATS, the store, the
// projections following the stream, the expiry scheduler and the HTTP API.
// Tests drive it like main does: NewMain, Run, Close.
type Main struct {
	Config Config

	log      *slog.Logger
	nats     *server.Server
	nc       *nats.Conn
	Store    *jsstore.Store
	Tokens   *tokenset.Set
	Dir      *directory.Directory
	Audit    *auditlog.Log
	Runner   *projections.Runner
	Commands *commands.Handler

	ln     net.Listener
	api    *httpapi.Server
	http   *http.Server
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewMain returns an unstarted service.
func NewMain(cfg Config) *Main {
	if cfg.LogOutput == nil {
		cfg.LogOutput = os.Stderr
	}
	if cfg.Getenv == nil {
		cfg.Getenv = func(string) string { return "" }
	}
	return &Main{Config: cfg, log: slog.New(slog.NewJSONHandler(cfg.LogOutput, nil))}
}

// URL is the HTTP base URL once Run returned.
func (m *Main) URL() string { return "http://" + m.ln.Addr().String() }

// NATSURL is the embedded NATS server's client URL ("" when it does not
// listen or NATS is external).
func (m *Main) NATSURL() string {
	if m.nats == nil || m.Config.NATSListen == "off" {
		return ""
	}
	return m.nats.ClientURL()
}

// Run starts everything and returns once the HTTP API is serving and the
// projections have caught up with the stream. Background work stops on
// Close.
func (m *Main) Run(ctx context.Context) error {
	tokens, err := bootstrap.Parse(m.Config.Getenv)
	if err != nil {
		return err
	}
	for _, t := range tokens {
		if t.Weak() {
			m.log.Warn("weak bootstrap token: its secret part is short enough to guess from its verifier, which stream readers can see; use at least 32 random characters",
				"token", t.Name(), "min_length", bootstrap.MinStrongBody)
		}
	}
	if err := m.connect(); err != nil {
		return err
	}
	m.Store, err = jsstore.Open(ctx, m.nc, jsstore.Config{Replicas: m.Config.Replicas})
	if err != nil {
		return err
	}
	m.Tokens, m.Dir, m.Audit = tokenset.New(), directory.New(), auditlog.New()
	m.Runner = projections.NewRunner(m.Store, m.Tokens, m.Dir, m.Audit)
	m.Commands = commands.NewHandler(m.Store, commands.Config{})

	bg, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.goRun("projections", func() error { return m.Runner.Run(bg) })

	m.api = httpapi.New(httpapi.Config{AuthProxyHeader: m.Config.AuthProxyHeader, TrustedProxies: m.Config.TrustedProxies,
		WriteWait:  m.Config.ReadWait,
		UnauthRate: m.Config.UnauthRate, UnauthBurst: m.Config.UnauthBurst,
		MutationRate: m.Config.MutationRate, MutationBurst: m.Config.MutationBurst,
		TrustedOrigins: m.Config.TrustedOrigins},
		httpapi.Deps{Commands: m.Commands, Tokens: m.Tokens, Directory: m.Dir, Audit: m.Audit, Runner: m.Runner,
			Source: m.Store, Store: m.Store, Health: m.Store.Health, Log: m.log})
	m.ln, err = net.Listen("tcp", m.Config.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", m.Config.Listen, err)
	}
	// Timeouts sized for the routes: headers and a 64 KiB body arrive in
	// seconds; the slowest answer waits twice for the projections
	// (X-Ledger-Min-Sequence, then its own write), each up to ReadWait,
	// plus the append itself.
	wait := m.Config.ReadWait
	if wait <= 0 {
		wait = 5 * time.Second
	}
	m.http = &http.Server{Handler: m.api, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 2*wait + 15*time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
	served := httpapi.LimitConnections(m.ln, m.http, m.Config.MaxConnections)
	m.goRun("http", func() error {
		if err := m.http.Serve(served); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})

	if err := m.Runner.WaitReady(ctx); err != nil {
		return fmt.Errorf("catch up with the stream: %w", err)
	}
	sys := commands.Meta{Actor: events.System, Via: events.Via{CredentialType: "internal", RequestID: "startup"}}
	if _, err := m.Commands.EnsureCatalogue(ctx, sys); err != nil {
		return fmt.Errorf("create default project and environments: %w", err)
	}
	if err := m.catchUp(ctx); err != nil {
		return err
	}
	n, err := bootstrap.Import(ctx, m.Commands, catalogue{m.Dir, m.Tokens}, tokens)
	if err != nil {
		return err
	}
	if err := m.catchUp(ctx); err != nil {
		return err
	}
	m.api.MarkStarted()
	m.log.Info("tokenledger serving", "http", m.URL(), "nats", m.NATSURL(), "data_dir", m.Config.DataDir,
		"tokens", m.Tokens.Len(), "imported_init_tokens", n, "last_seq", m.Runner.LastApplied())
	sched := &expiry.Scheduler{Commands: m.Commands, Tokens: m.Tokens, Every: m.Config.ExpiryEvery, Log: m.log}
	m.goRun("expiry", func() error { return sched.Run(bg) })
	return nil
}

// catchUp waits until the projections applied every event stored so far.
func (m *Main) catchUp(ctx context.Context) error {
	seq, err := m.Store.LastSequence(ctx)
	if err != nil {
		return err
	}
	return m.Runner.WaitFor(ctx, seq)
}

func (m *Main) goRun(name string, f func() error) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := f(); err != nil && !errors.Is(err, context.Canceled) {
			m.log.Error("background task stopped", "task", name, "err", err)
		}
	}()
}

func (m *Main) connect() error {
	if m.Config.NATSURL != "" {
		nc, err := nats.Connect(m.Config.NATSURL, nats.Name("tokenledger"), nats.MaxReconnects(-1),
			nats.ReconnectWait(500*time.Millisecond))
		if err != nil {
			return fmt.Errorf("connect to NATS at %s: %w", redactURLs(m.Config.NATSURL), err)
		}
		m.nc = nc
		return nil
	}
	cfg := jsstore.DefaultEmbedded(m.Config.DataDir)
	cfg.SyncAlways = !m.Config.NoSync
	if l := m.Config.NATSListen; l != "off" && l != "" {
		cfg.Listen = l
	}
	// Only this process may append: its connection authenticates with a
	// password made for this run and kept nowhere; every other client of
	// the listener is a read-only reader.
	var pw [24]byte
	if _, err := rand.Read(pw[:]); err != nil {
		return err
	}
	cfg.OwnerPassword = hex.EncodeToString(pw[:])
	s, err := jsstore.StartEmbedded(cfg)
	if err != nil {
		return err
	}
	m.nats = s
	// Replies to the service go to an inbox prefix readers may not
	// subscribe to (they may only use _INBOX.>).
	opts := []nats.Option{nats.Name("tokenledger"), nats.UserInfo(jsstore.OwnerUser, cfg.OwnerPassword),
		nats.CustomInboxPrefix(jsstore.OwnerInboxPrefix)}
	url := s.ClientURL()
	if cfg.Listen == "" {
		opts = append(opts, nats.InProcessServer(s))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("connect to embedded NATS: %w", err)
	}
	m.nc = nc
	return nil
}

// Close stops the HTTP server, the background work, the store and the
// embedded NATS server, in that order. It is safe to call on a partly
// started Main.
func (m *Main) Close() error {
	var errs []error
	if m.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, m.http.Shutdown(ctx))
		cancel()
	}
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	if m.Store != nil {
		errs = append(errs, m.Store.Close())
	}
	if m.nc != nil {
		m.nc.Close()
	}
	if m.nats != nil {
		m.nats.Shutdown()
		m.nats.WaitForShutdown()
	}
	return errors.Join(errs...)
}

// catalogue adapts the directory and the token set to bootstrap.Catalogue.
type catalogue struct {
	d      *directory.Directory
	tokens *tokenset.Set
}

func (c catalogue) TokenExists(id string) bool {
	_, ok := c.tokens.ByID(id)
	return ok
}

func (c catalogue) ProjectExists(id string) bool {
	p, ok := c.d.Project(id)
	return ok && !p.Deleted
}

func (c catalogue) EnvironmentExists(name string) bool {
	_, ok := c.d.Environment(strings.TrimSpace(name))
	return ok
}

// redactURLs hides the passwords of a comma-separated list of NATS URLs.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil {
			parts[i] = u.Redacted()
		} else {
			parts[i] = "(unparsable URL)"
		}
	}
	return strings.Join(parts, ",")
}
