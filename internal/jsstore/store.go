package jsstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/projections"
)

var (
	_ commands.EventStore = (*Store)(nil)
	_ projections.Source  = (*Store)(nil)
)

// The oldest server the store works with: atomic batch publish arrived in
// nats-server 2.12 (JetStream API level 2); the wildcard expectation
// header in 2.11.
const (
	minServerMajor = 2
	minServerMinor = 12
	minAPILevel    = 2
)

// Advisory subject prefixes published by JetStream for stream changes.
const (
	advisoryUpdated = "$JS.EVENT.ADVISORY.STREAM.UPDATED."
	advisoryDeleted = "$JS.EVENT.ADVISORY.STREAM.DELETED."
)

// recheckTimeout bounds one re-read of the stream configuration;
// recheckRetry is the pause before a failed re-read after an update is
// tried again.
const (
	recheckTimeout = 5 * time.Second
	recheckRetry   = time.Second
	// deleteConfirmations is how many more re-reads, recheckRetry apart,
	// follow one that found the stream after a delete advisory.
	deleteConfirmations = 10
)

// Store is the JetStream event store: it appends events to the ledger
// stream and reads them back. It implements [commands.EventStore] and
// [projections.Source]. A Store is safe for concurrent use by multiple
// goroutines. It does not own the connection: close the Store, then the
// connection.
type Store struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	name   string
	cfg    Config

	subs []*nats.Subscription

	signer atomic.Pointer[signerBox] // signs appended events; nil: unsigned

	mu        sync.Mutex
	latched   error  // permanent fail-closed reason (deleted, replaced, events lost)
	violation error  // fail-closed until a later check finds the configuration fit again
	gen       uint64 // number of update advisories seen
	// updateHint is set by an update advisory until a re-read that
	// started after it succeeds; a failed read is then retried soon.
	updateHint bool
	// deleteHints counts the re-reads still owed to a delete advisory: the
	// advisory can arrive while the stream is still being removed, so one
	// STREAM.INFO that finds it proves nothing yet.
	deleteHints int
	closed      bool
	// minReplicas is the fewest replicas the stream may have while the
	// store accepts appends ([Store.GuardReplicas]); ≤ 1: not checked.
	minReplicas int

	deleted     chan struct{} // closed when the stream is known to be deleted
	deletedOnce sync.Once
	kick        chan struct{} // asks the watcher to re-check now
	stop        chan struct{}
	stopOnce    sync.Once
	// reconn ends attempts in flight when the connection is
	// re-established (reconnect.go).
	reconn      reconnects
	watcherDone chan struct{}
	created     time.Time // the opened stream's creation time: a replaced stream latches
	wants       wants     // sequences readers wait for; see Want
	// requestBatch is the most messages the server lets one pull ask
	// for, when that is below what a byte window asks (see pullWindow);
	// 0 until a consumer showed such a bound.
	requestBatch atomic.Int64
	// appended, when set, hears of every append this Store made, once
	// acknowledged (see onAppended).
	appended atomic.Pointer[appendedFunc]
}

// Open returns a Store on the stream named by cfg (defaults applied),
// creating it with [StreamConfig] if it does not exist. It checks that the
// server supports what the store needs (nats-server ≥ 2.12, JetStream API
// level ≥ 2) and that the stream passes [CheckConfig]; otherwise it
// returns an error (a *ConfigError for the configuration) and no Store. It
// never modifies an existing stream.
//
// The Store subscribes to the stream's update and delete advisories on nc
// and keeps checking the configuration in the background until [Store.Close].
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	if nc == nil {
		return nil, errors.New("jsstore: open: nil connection")
	}
	if strings.ContainsAny(cfg.Stream, ".*> \t\r\n") {
		return nil, fmt.Errorf("jsstore: open: invalid stream name %q", cfg.Stream)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jsstore: open: %w", err)
	}
	if err := checkPermissions(ctx, nc, cfg.Stream); err != nil {
		return nil, err
	}
	if err := checkServer(ctx, nc, js); err != nil {
		return nil, err
	}

	s := &Store{
		nc:          nc,
		js:          js,
		name:        cfg.Stream,
		cfg:         cfg,
		deleted:     make(chan struct{}),
		kick:        make(chan struct{}, 1),
		stop:        make(chan struct{}),
		watcherDone: make(chan struct{}),
	}
	// Subscribe before the first check, so that no change between the
	// check and the subscription goes unnoticed.
	for _, sub := range []struct {
		subject string
		handler nats.MsgHandler
	}{
		{advisoryUpdated + cfg.Stream, s.onUpdated},
		{advisoryDeleted + cfg.Stream, s.onDeleted},
	} {
		ns, err := nc.Subscribe(sub.subject, sub.handler)
		if err != nil {
			s.unsubscribe()
			return nil, fmt.Errorf("jsstore: open: subscribe to %s: %w", sub.subject, err)
		}
		s.subs = append(s.subs, ns)
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = nc.FlushWithContext(fctx)
	cancel()
	if err != nil {
		s.unsubscribe()
		return nil, fmt.Errorf("jsstore: open: flush subscriptions: %w", err)
	}

	stream, err := s.openStream(ctx)
	if err != nil {
		s.unsubscribe()
		return nil, err
	}
	if err := s.removeForeignConsumers(ctx, stream); err != nil {
		s.unsubscribe()
		return nil, err
	}
	if s.cfg.OwnsServer {
		if err := s.removeForeignStreams(ctx); err != nil {
			s.unsubscribe()
			return nil, err
		}
	}
	s.stream = stream
	s.created = stream.CachedInfo().Created
	// Advisories sent while the connection was down are lost: re-check as
	// soon as it is back (chaining any handler the connection had).
	prev := nc.Opts.ReconnectedCB
	nc.SetReconnectHandler(func(c *nats.Conn) {
		s.reconn.signal()
		s.onUpdated(nil)
		if prev != nil {
			prev(c)
		}
	})
	go s.watch()
	return s, nil
}

func (s *Store) openStream(ctx context.Context) (jetstream.Stream, error) {
	stream, err := s.js.Stream(ctx, s.name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		stream, err = s.js.CreateStream(ctx, StreamConfig(s.cfg))
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			// Another ledger replica created it first: check theirs.
			stream, err = s.js.Stream(ctx, s.name)
		} else if err != nil {
			return nil, fmt.Errorf("jsstore: open: create stream %s: %w", s.name, err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("jsstore: open: stream %s: %w", s.name, err)
	}
	if err := CheckConfig(stream.CachedInfo().Config); err != nil {
		return nil, err
	}
	return stream, nil
}

// checkServer refuses servers older than the store needs, saying which
// version was found and which is required.
func checkServer(ctx context.Context, nc *nats.Conn, js jetstream.JetStream) error {
	version := nc.ConnectedServerVersion()
	if !versionAtLeast(version, minServerMajor, minServerMinor) {
		return fmt.Errorf("jsstore: nats-server %s is too old: the ledger needs %d.%d or newer (atomic batch publish, wildcard expectations)",
			version, minServerMajor, minServerMinor)
	}
	info, err := js.AccountInfo(ctx)
	if err != nil {
		return fmt.Errorf("jsstore: JetStream account info from nats-server %s: %w", version, err)
	}
	if info.API.Level < minAPILevel {
		return fmt.Errorf("jsstore: JetStream API level %d of nats-server %s is too old: the ledger needs level %d (nats-server %d.%d)",
			info.API.Level, version, minAPILevel, minServerMajor, minServerMinor)
	}
	return nil
}

// versionAtLeast reports whether a semantic version string ("2.15.2",
// "v2.12.0-RC.1") is at least major.minor.
func versionAtLeast(v string, major, minor int) bool {
	v = strings.TrimPrefix(v, "v")
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		v = v[:i]
	}
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}

// Health reports why the store refuses appends, or nil when it accepts
// them: the stream's configuration stopped passing [CheckConfig], the
// stream was deleted, replaced or lost events, or the store was closed.
// An update or delete advisory alone changes nothing: it makes the store
// re-read the stream at once.
func (s *Store) Health() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.healthLocked()
}

func (s *Store) healthLocked() error {
	switch {
	case s.closed:
		return errors.New("jsstore: store closed")
	case s.latched != nil:
		return s.latched
	case s.violation != nil:
		return s.violation
	default:
		return nil
	}
}

// Close stops watching the stream and unsubscribes from its advisories.
// Appends after Close fail with [commands.ErrUnavailable]. Close does not
// stop running Replay or Follow calls (cancel their contexts) and does not
// close the connection. It is safe to call more than once.
func (s *Store) Close() error {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.stop)
		s.unsubscribe()
		<-s.watcherDone
	})
	return nil
}

func (s *Store) unsubscribe() {
	for _, sub := range s.subs {
		_ = sub.Unsubscribe()
	}
}

// onUpdated takes an update advisory as a hint, like onDeleted: it
// re-reads the stream at once, and only a configuration the read finds
// unfit fails appends closed. Anyone able to publish on the advisory
// subject (or to point a push consumer's heartbeats at it, from any stream
// of the account) could forge one; a forged advisory costs one STREAM.INFO.
func (s *Store) onUpdated(*nats.Msg) {
	s.mu.Lock()
	s.gen++
	s.updateHint = true
	s.mu.Unlock()
	s.poke()
}

// onDeleted takes a delete advisory as a hint and re-reads the stream at
// once: anyone able to publish on the advisory subject (or to point a push
// consumer's heartbeats at it) could forge one. Only a STREAM.INFO
// answering "not found" latches the store. Appends need no pending state
// meanwhile: a deleted stream refuses them by itself.
func (s *Store) onDeleted(*nats.Msg) {
	s.mu.Lock()
	s.deleteHints = deleteConfirmations
	s.mu.Unlock()
	s.poke()
}

func (s *Store) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Store) markDeleted() { s.deletedOnce.Do(func() { close(s.deleted) }) }

func (s *Store) latch(err error) {
	s.mu.Lock()
	if s.latched == nil {
		s.latched = latchedError{err}
	}
	s.mu.Unlock()
}

// latchedError is a latched reason: its own message, and it matches
// [commands.ErrFailedClosed] (no wait ends it: the API answers its
// refusals without Retry-After).
type latchedError struct{ err error }

func (e latchedError) Error() string        { return e.err.Error() }
func (e latchedError) Unwrap() error        { return e.err }
func (e latchedError) Is(target error) bool { return target == commands.ErrFailedClosed }

// watch re-checks the configuration when an update advisory arrives and
// every cfg.Recheck, until Close.
func (s *Store) watch() {
	defer close(s.watcherDone)
	tick := time.NewTicker(s.cfg.Recheck)
	defer tick.Stop()
	var retry <-chan time.Time
	for {
		select {
		case <-s.stop:
			return
		case <-s.kick:
		case <-tick.C:
		case <-retry:
		}
		retry = nil
		if again := s.recheck(); again {
			retry = time.After(recheckRetry)
		}
	}
}

// recheck reads the stream configuration and updates the fail-closed
// state. It returns true when it should run again soon: an update is
// still unconfirmed because the read failed, or a delete advisory still
// owes confirmations.
func (s *Store) recheck() (retry bool) {
	s.mu.Lock()
	gen := s.gen
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), recheckTimeout)
	defer cancel()
	info, err := s.stream.Info(ctx)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		s.latch(fmt.Errorf("jsstore: stream %s was deleted", s.name))
		s.markDeleted()
		return false
	case err != nil:
		s.mu.Lock()
		defer s.mu.Unlock()
		// After an update advisory, try again soon; a periodic check
		// tries again at the next tick.
		return s.updateHint || s.deleteHints > 0
	}
	if info.Config.Sealed {
		// JetStream never unseals a stream: it takes no more events.
		s.latch(fmt.Errorf("jsstore: stream %s was sealed: it takes no more events (a seal cannot be undone)", s.name))
		return false
	}
	err = CheckConfig(info.Config)
	if err == nil {
		err = s.replicaProblem(info.Config)
	}
	if err != nil {
		if foreignWritable(info.Config) {
			// Foreign messages may have entered the stream: fixing the
			// configuration does not remove them.
			s.latch(err)
			return false
		}
		s.mu.Lock()
		s.setViolation(err)
		if s.gen == gen {
			s.updateHint = false // confirmed: the violation is the reason now
		}
		s.mu.Unlock()
		return false
	}
	switch {
	case !info.Created.Equal(s.created):
		// Deleted and created again (perhaps while we were disconnected):
		// the history this store appended to is gone.
		s.latch(fmt.Errorf("jsstore: stream %s was replaced (created %s, opened one was created %s)", s.name, info.Created, s.created))
		return false
	case info.State.Msgs > 0 && info.State.FirstSeq != 1, info.State.NumDeleted > 0:
		// Made unsafe and safe again between two checks: events are gone.
		s.latch(fmt.Errorf("jsstore: stream %s lost events (first sequence %d, %d deleted)", s.name, info.State.FirstSeq, info.State.NumDeleted))
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Fit again, same stream, nothing lost.
	s.setViolation(nil)
	if s.gen == gen { // no newer update arrived while we read
		s.updateHint = false
	}
	if s.deleteHints > 0 {
		s.deleteHints--
		return true // look again shortly
	}
	return false
}

// foreignWritable reports whether sc lets messages into the stream that
// the ledger did not append with its expectations (sources, a mirror, a
// subject transform, message schedules, subjects other than ledger.>) or
// may lose acknowledged ones undetectably (asynchronous persistence).
// Such a violation stays latched after the configuration is fixed; the
// others (limits, deletes, purges) leave a trace the lost-events check
// sees, so they clear once the stream is fit again.
func foreignWritable(sc jetstream.StreamConfig) bool {
	return sc.Mirror != nil || len(sc.Sources) > 0 || sc.SubjectTransform != nil || sc.AllowMsgSchedules ||
		sc.PersistMode != jetstream.DefaultPersistMode || !coversAny(sc.Subjects, ledgerSubjects)
}
