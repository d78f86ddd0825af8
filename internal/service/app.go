package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofrs/flock"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/bootstrap"
	"github.com/tokenledger/tokenledger/internal/catchupgc"
	"github.com/tokenledger/tokenledger/internal/expiry"
	"github.com/tokenledger/tokenledger/internal/httpapi"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
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

	// caughtUp is called once the start is over (startOver): [Serve]'s
	// hooks, such as the collector's target after the catch-up.
	caughtUp []func()
	overOnce sync.Once

	log      *slog.Logger
	nats     *server.Server
	nc       *nats.Conn
	feed     *nats.Conn     // FeedUser's connection; nil without a NATS listener
	front    *jsstore.Front // the NATS listener; nil without one
	Store    *jsstore.Store
	Tokens   *tokenset.Set
	Dir      *directory.Directory
	Audit    *auditlog.Log
	Runner   *projections.Runner
	Commands *commands.Handler

	key *ledgerkey.Key // signs every appended event
	// keyHist is the ledger's key history (keyhistory.go): the keys the
	// stream's first signed event may be signed by.
	keyHist ledgerkey.History

	lock *flock.Flock // the data dir's lock, held while the embedded server runs
	ln   net.Listener
	// handler serves the starting answers until the API is built;
	// starting says why it is not built yet.
	handler  swapHandler
	starting atomic.Pointer[startState]
	api      *httpapi.Server
	http     *http.Server
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	// Integrity is the Merkle tree over the stream (a projection);
	// checkpoints signs and appends its checkpoints.
	Integrity   *integrity.Log
	checkpoints *checkpoints
	// watch follows the stream's reachability and leader on an external
	// NATS (nil on the embedded server).
	watch     *streamWatch
	snapshots *snapshots // nil when off
	// chains checks every event's place in its aggregate's chain.
	chains *projections.Chains
	// check is the start's check of the records a restored snapshot
	// covers, run once the service is ready.
	check *wholeLogCheck
}

// NewMain returns an unstarted service.
func NewMain(cfg Config) *Main {
	if cfg.LogOutput == nil {
		cfg.LogOutput = os.Stderr
	}
	if cfg.Getenv == nil {
		cfg.Getenv = func(string) string { return "" }
	}
	return &Main{Config: cfg, log: newLogger(cfg), check: newWholeLogCheck()}
}

// newLogger is the service's logger: JSON (or text) lines at LogLevel and
// above on LogOutput.
func newLogger(cfg Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(cfg.LogOutput, opts))
	}
	return slog.New(slog.NewJSONHandler(cfg.LogOutput, opts))
}

// URL is the HTTP base URL once Run returned.
func (m *Main) URL() string { return "http://" + m.ln.Addr().String() }

// NATSURL is the embedded NATS server's client URL ("" when it does not
// listen or NATS is external).
func (m *Main) NATSURL() string {
	if m.front == nil {
		return ""
	}
	return m.front.ClientURL()
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
		if t.Refused() {
			return fmt.Errorf("service: %s: the secret is well known or too weak to guess offline from its verifier, which readers of the token feed and the stream can see; use at least %d random characters after the prefix",
				t.Name(), bootstrap.MinStrongBody)
		}
		if t.Weak() {
			m.log.Warn("weak bootstrap token: its secret part is short enough to guess from its verifier, which stream readers can see; use at least 32 random characters",
				"token", t.Name(), "min_length", bootstrap.MinStrongBody)
		}
	}
	// HTTP serves from the start: /ready says STARTING while the stream
	// is opened (on a cluster, awaited) and replayed.
	if err := m.listen(); err != nil {
		return err
	}
	if err := m.connect(ctx); err != nil {
		return err
	}
	m.Store, err = m.openStore(ctx)
	if err != nil {
		return err
	}
	chain, err := m.setUpSigning(ctx)
	if err != nil {
		return err
	}
	m.Tokens, m.Dir, m.Audit = tokenset.New(), directory.New(), auditlog.New(m.reads())
	m.Integrity = integrity.NewLog()
	m.chains = projections.NewChains()
	if m.snapshots, err = m.newSnapshots(); err != nil {
		return err
	}
	m.restoreSnapshot(ctx, chain) // a valid snapshot replaces the empty projections
	m.Runner = projections.NewRunner(m.reads(), m.Tokens, m.Dir, m.Audit, m.Integrity)
	m.Runner.Log, m.Runner.ProgressEvery = m.log, m.Config.ReplayProgressEvery
	m.Runner.DuringCatchUp = m.catchUpGC()
	// Only events the ledger signed reach the projections; the feed's own
	// lane hears how far that check came (jsstore.FeedTracker).
	checked := &jsstore.FeedTracker{Applied: m.Runner.LastApplied}
	m.Runner.Verify = checked.Verify(refuseOwnKeyRetired(m.key.VerifierKey(), chain.Check))
	m.Runner.Precheck = chain.Precheck // the replay's signatures checked on all CPUs
	// … each in its place in its aggregate's chain (a replayed copy is not).
	m.Runner.Chains = m.chains
	// Appends are observed for the metrics; m.api is set below, before
	// anything appends (the catalogue, INIT_* tokens, requests, expiries).
	observed := observedStore{Store: m.Store, observe: func(took time.Duration, err error) {
		if m.api != nil {
			m.api.ObserveAppend(took, err)
		}
	}, halted: m.tamperStop, check: m.check}
	var appender commands.EventStore = observed
	health := m.Store.Health
	var staleness func() time.Duration
	if m.nats == nil {
		m.watch = newStreamWatch(m.Store, m.Runner.LastApplied)
		appender = guardedStore{observedStore: observed, watch: m.watch}
		health = func() error {
			if err := m.Store.Health(); err != nil {
				return err
			}
			return m.watch.health()
		}
		staleness = m.watch.staleness
	}
	m.Commands = commands.NewHandler(appender, commands.Config{Now: m.Config.Now, Catalogue: readModels{m.Dir, m.Tokens}, Tokens: readModels{m.Dir, m.Tokens},
		SealKey: m.Store.SignerID})
	tel, err := m.telemetry(ctx)
	if err != nil {
		return err
	}
	if err := m.newCheckpoints(); err != nil {
		return err
	}
	trusted, err := m.trustLastCheckpoint(ctx, chain)
	if err != nil {
		return err
	}

	bg, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.Runner.Stopping = func(err error) { logTamper(m.log, err) }
	m.goRun("projections", func() error { return tamperLogged(m.Runner.Run(bg)) })
	m.goRun("whole-log-check", func() error { return m.runWholeLogCheck(bg) })
	if m.watch != nil {
		tel.LeaderChanges = m.watch.leaderChanges
		m.goRun("stream-watch", func() error { return m.watch.run(bg) })
	}
	if m.feed != nil {
		pub := &jsstore.FeedPublisher{Store: m.Store, Conn: m.feed, Log: m.log, Verified: m.check.verified(trusted.waitFor(m.Runner.WaitFor)), Key: m.key,
			Own: checked}
		m.goRun("feed", func() error { return pub.Run(bg) })
		tel.Feed = func() (bool, uint64) { return pub.Following(), pub.LastLedgerSequence() }
	}

	m.api = httpapi.New(httpapi.Config{AuthProxyHeader: m.Config.AuthProxyHeader, TrustedProxies: m.Config.TrustedProxies,
		WriteWait:  m.Config.ReadWait,
		UnauthRate: m.Config.UnauthRate, UnauthBurst: m.Config.UnauthBurst,
		MutationRate: m.Config.MutationRate, MutationBurst: m.Config.MutationBurst,
		TrustedOrigins: m.Config.TrustedOrigins, SecretBodies: secretBodies(tokens), WriteTimeout: m.http.WriteTimeout},
		httpapi.Deps{Commands: m.Commands, Tokens: m.Tokens, Directory: m.Dir, Audit: m.Audit, Runner: m.Runner,
			Source: m.reads(), Store: m.reads(), Health: health, Log: m.log, Telemetry: tel,
			Integrity: m.checkpoints, Staleness: staleness, TreeHead: m.waitTreeHead,
			HistoryUnchecked: m.check.pending})
	m.handler.set(m.api) // the API answers from now on

	if err := m.Runner.WaitReady(ctx); err != nil {
		if events.AsTamper(err) != nil {
			// Logged by the projections' task; keep serving the probes,
			// which name the sequence, and refuse everything else.
			return nil
		}
		return fmt.Errorf("catch up with the stream: %w", err)
	}
	if err := m.serveReady(ctx, bg, chain, tokens); err != nil {
		if events.AsTamper(err) != nil || events.AsTamper(m.Runner.Err()) != nil || m.check.found() != nil {
			// The whole-log check found tampering meanwhile: logged, and
			// the probes name it, as above.
			return nil
		}
		return err
	}
	return nil
}

// serveReady finishes the start once the projections caught up: the key
// chain's end, the checkpoints and tree head, the default catalogue and
// the INIT_* tokens, then the background tasks.
func (m *Main) serveReady(ctx, bg context.Context, chain *ledgerkey.Chain, tokens []bootstrap.Token) error {
	if err := m.checkChainEnd(chain); err != nil {
		return err
	}
	if err := m.checkPinned(); err != nil {
		return err
	}
	if err := m.learnRotatedKeys(ctx); err != nil {
		return err
	}
	if err := m.checkpoints.start(); err != nil {
		return err
	}
	m.startTreeHead(bg)
	sys := commands.Meta{Actor: events.System, Via: events.Via{CredentialType: "internal", RequestID: "startup"}}
	if !m.defaultsRestored() {
		if _, err := m.Commands.EnsureDefaults(ctx, sys); err != nil {
			return fmt.Errorf("create default project and environments: %w", err)
		}
	}
	if err := m.catchUp(ctx); err != nil {
		return err
	}
	n, err := bootstrap.Import(ctx, m.Commands, readModels{m.Dir, m.Tokens}, tokens)
	if err != nil {
		return err
	}
	if err := m.catchUp(ctx); err != nil {
		return err
	}
	m.startOver()
	m.api.MarkStarted()
	m.log.Info("tokenledger serving", "http", m.URL(), "nats", m.NATSURL(), "data_dir", m.Config.DataDir,
		"tokens", m.Tokens.Len(), "imported_init_tokens", n, "last_seq", m.Runner.LastApplied())
	sched := &expiry.Scheduler{Commands: m.Commands, Tokens: m.Tokens, Every: m.Config.ExpiryEvery, Log: m.log}
	m.goRun("expiry", func() error { return sched.Run(bg) })
	sweep := &expiry.Sweeper{Commands: m.Commands, Tokens: m.Tokens, Every: m.Config.ExpiryEvery, Log: m.log}
	m.goRun("sweep", func() error { return sweep.Run(bg) })
	m.goRun("checkpoints", func() error { return m.checkpoints.run(bg) })
	m.serveSnapshots(bg, chain)
	return nil
}

// listen binds the HTTP address and serves, first the starting answers,
// then the API once Run sets it.
func (m *Main) listen() error {
	m.handler.set(m.startingHandler())
	var err error
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
	m.http = &http.Server{Handler: &m.handler, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 2*wait + 15*time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
	trusted := m.Config.TrustedProxies
	served := httpapi.LimitConnections(httpapi.LazyDeadlines(m.ln), m.http, m.Config.MaxConnections, func(a netip.Addr) bool {
		return slices.ContainsFunc(trusted, func(p netip.Prefix) bool { return p.Contains(a) })
	})
	m.goRun("http", func() error {
		if err := m.http.Serve(served); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
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

func (m *Main) connect(ctx context.Context) error {
	if m.Config.NATSURL != "" {
		// RetryOnFailedConnect: a cluster still starting is waited for
		// (openStore retries), not a reason to exit.
		ping := m.Config.NATSPingInterval
		if ping <= 0 {
			ping = DefaultNATSPingInterval
		}
		nc, err := nats.Connect(m.Config.NATSURL, nats.Name("tokenledger"), nats.MaxReconnects(-1),
			nats.ReconnectWait(500*time.Millisecond), nats.ErrorHandler(m.natsErrors), nats.RetryOnFailedConnect(true),
			nats.PingInterval(ping), nats.MaxPingsOutstanding(2))
		if err != nil {
			return fmt.Errorf("connect to NATS at %s: %w", redactURLs(m.Config.NATSURL), err)
		}
		m.nc = nc
		return nil
	}
	if err := m.lockDataDir(); err != nil {
		return err
	}
	cfg := jsstore.DefaultEmbedded(m.Config.DataDir) // no listener of its own: the front (below)
	cfg.SyncAlways = !m.Config.NoSync
	listen := m.Config.NATSListen
	if listen == "off" {
		listen = ""
	}
	// Only this process may append: its connection authenticates with a
	// password made for this run and kept nowhere, in an account no other
	// client can publish into. A second per-run password lets it manage
	// the readers' feed in their account.
	owner, err := randomPassword()
	if err != nil {
		return err
	}
	feed, err := randomPassword()
	if err != nil {
		return err
	}
	cfg.OwnerPassword, cfg.FeedPassword = owner, feed
	cfg.Readers = m.Config.NATSReaders
	l := m.Config.NATSLimits
	front := jsstore.FrontConfig{Listen: listen, MaxConnections: l.MaxConnections, MaxUnauthenticated: m.Config.NATSMaxUnauthenticated, Log: m.log,
		FailedSignInRate: m.Config.UnauthRate, FailedSignInBurst: m.Config.UnauthBurst}
	cfg.MaxConnections, cfg.MaxReaderConnections, cfg.MaxReaderSubscriptions = front.ServerConnections(), l.MaxReaderConnections, l.MaxReaderSubscriptions
	cfg.MaxPayload, cfg.FeedMaxBytes = l.MaxPayload, l.FeedMaxBytes
	cfg.Log = m.log
	if listen != "" {
		// Bound now (a taken port is reported at once), serving once the
		// ledger's own connections are made.
		if m.front, err = jsstore.NewFront(front); err != nil {
			return err
		}
	}
	s, err := jsstore.StartEmbedded(ctx, cfg)
	if err != nil {
		return err
	}
	m.nats = s
	// The ledger's connections are in-process and made before the
	// listener opens; the server's connection cap has room for them
	// beyond every socket the front lets through (an in-process
	// connection is dropped only when the server closes it; it then
	// retries without end).
	connect := func(user, pw, inbox string) (*nats.Conn, error) {
		return nats.Connect("", nats.Name("tokenledger"), nats.UserInfo(user, pw), nats.CustomInboxPrefix(inbox),
			nats.ErrorHandler(m.natsErrors), nats.InProcessServer(s), nats.MaxReconnects(-1))
	}
	nc, err := connect(jsstore.OwnerUser, owner, jsstore.OwnerInboxPrefix)
	if err != nil {
		return fmt.Errorf("connect to embedded NATS: %w", err)
	}
	m.nc = nc
	if listen == "" {
		return nil // no reader can connect: no feed to keep
	}
	if len(cfg.Readers) == 0 {
		// No reader can sign in either: the feed would cost an fsynced
		// publish per token event and its last block's write buffer (up to
		// 8 MiB of heap) for nobody. A later start with readers resumes
		// it after its last event (jsstore.FeedPublisher), so nothing is
		// lost by not keeping it now.
		m.front.Serve(s)
		m.log.Info("the NATS listener accepts no readers: add nkeys or name:bcrypt-hash users with --nats-readers or --nats-readers-file to let services follow token events",
			"nats", m.front.ClientURL())
		return nil
	}
	// The feed is a projection the ledger publishes (jsstore.FeedPublisher,
	// started in Run) through a connection of its own in the feed's
	// account.
	fc, err := connect(jsstore.FeedUser, feed, jsstore.FeedInboxPrefix)
	if err != nil {
		return fmt.Errorf("connect to embedded NATS as the feed: %w", err)
	}
	m.feed = fc
	if err := jsstore.EnsureFeed(ctx, fc, m.log); err != nil {
		return err
	}
	m.front.Serve(s)
	return nil
}

// lockDataDir takes an exclusive lock on the data dir for the life of the
// process, so that a second tokenledger on the same dir stops at once
// instead of writing the same sequences as this one.
func (m *Main) lockDataDir() error {
	dir := m.Config.DataDir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("data dir %s: %w", dir, err)
	}
	lock := flock.New(filepath.Join(dir, "tokenledger.lock"))
	ok, err := lock.TryLock()
	if err != nil {
		return fmt.Errorf("data dir %s: lock: %w", dir, err)
	}
	if !ok {
		return fmt.Errorf("data dir %s is in use by another tokenledger process (it holds %s); stop it or use another --data-dir", dir, lock.Path())
	}
	m.lock = lock
	return nil
}

// natsErrors logs the asynchronous errors of the ledger's connections
// (permission violations, slow consumer) instead of dropping them.
func (m *Main) natsErrors(_ *nats.Conn, sub *nats.Subscription, err error) {
	subject := ""
	if sub != nil {
		subject = sub.Subject
	}
	m.log.Warn("NATS connection error", "err", err, "subject", subject)
}

func randomPassword() (string, error) {
	var pw [24]byte
	if _, err := rand.Read(pw[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(pw[:]), nil
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
	m.finalCheckpoint()
	m.closeTreeHead()
	m.finalSnapshot()
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
	if m.feed != nil {
		m.feed.Close()
	}
	if m.front != nil {
		errs = append(errs, m.front.Close())
		m.front = nil
	}
	if m.nats != nil {
		m.nats.Shutdown()
		m.nats.WaitForShutdown()
	}
	if m.lock != nil {
		errs = append(errs, m.lock.Unlock())
		m.lock = nil
	}
	return errors.Join(errs...)
}

// readModels adapts the directory and the token set to the read ports of
// commands (Catalogue, TokenIndex) and to bootstrap.TokenIndex.
type readModels struct {
	d      *directory.Directory
	tokens *tokenset.Set
}

func (c readModels) TokenExists(id string) bool {
	_, ok := c.tokens.ByID(id)
	return ok
}

func (c readModels) ProjectLive(id string) bool {
	p, ok := c.d.Project(id)
	return ok && !p.Deleted
}

func (c readModels) EnvironmentLive(name string) bool {
	_, ok := c.d.Environment(name)
	return ok
}

func (c readModels) Environments() []string {
	var out []string
	for _, e := range c.d.Environments() {
		out = append(out, e.Name)
	}
	return out
}

func (c readModels) OwnedTokens(owner events.Owner) []commands.TokenRef {
	var out []commands.TokenRef
	for _, t := range c.tokens.ByOwner(owner.Kind, owner.ID) {
		out = append(out, commands.TokenRef{ID: t.ID, Type: t.Type, Revoked: t.Revoked})
	}
	return out
}

func (c readModels) ProjectTokens(project string) []string {
	var out []string
	for _, t := range c.tokens.ByProject(project) {
		if !t.Revoked {
			out = append(out, t.ID)
		}
	}
	return out
}

func (c readModels) EnvironmentTokens(env string) []string {
	var out []string
	for _, t := range c.tokens.All() {
		if t.Environment == env && !t.Revoked {
			out = append(out, t.ID)
		}
	}
	return out
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

// defaultsRestored reports whether the directory the start restored already
// holds the default project and environments (live or deleted): then
// EnsureDefaults would append nothing, and its reads of those aggregates,
// which on a large stream walk the whole stream after them when cold
// (seconds at a million events), are skipped. Otherwise (a fresh ledger, a
// directory that has not caught up) EnsureDefaults decides on the stream.
func (m *Main) defaultsRestored() bool {
	if _, ok := m.Dir.Project(commands.DefaultProject); !ok {
		return false
	}
	for _, env := range commands.DefaultEnvironmentNames() {
		if _, ok := m.Dir.Environment(env); !ok {
			return false
		}
	}
	return true
}

// secretBodies are the bootstrap secrets' parts after their public
// "projects:environment." prefix (httpapi.Config.SecretBodies).
func secretBodies(tokens []bootstrap.Token) []string {
	var out []string
	for _, t := range tokens {
		if p, err := commands.ParseToken(t.Secret.Reveal()); err == nil && p.Body != "" && p.Body != t.Secret.Reveal() {
			out = append(out, p.Body)
		}
	}
	return out
}

// startOver calls m.caughtUp's functions, the first time only: before the
// service says it serves, or when the start ended otherwise.
func (m *Main) startOver() {
	m.overOnce.Do(func() {
		for _, f := range m.caughtUp {
			f()
		}
	})
}

// catchUpGC is the Runner's DuringCatchUp: a replay runs with the
// collector's GOGC raised, bounded by a memory limit (catchupgc.Relax);
// none with --memory-limit off, or GOMEMLIMIT=off under "auto" (the
// runtime's own "no limit", which "auto" honours), which ask for no bound.
func (m *Main) catchUpGC() func() func() {
	getenv := m.Config.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if m.Config.MemoryLimit == MemoryLimitOff || (m.Config.MemoryLimit == MemoryLimitAuto && getenv("GOMEMLIMIT") == "off") {
		return nil
	}
	return catchupgc.Relax
}
