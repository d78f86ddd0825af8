package verifier

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/feed"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// Verification failures. Only a nil error lets a request through.
var (
	// ErrUnknown: no token has the secret.
	ErrUnknown = errors.New("verifier: unknown token")
	// ErrRevoked: the token was revoked (or what it acts for was deleted).
	ErrRevoked = errors.New("verifier: token revoked")
	// ErrExpired: the token's expiry has passed.
	ErrExpired = errors.New("verifier: token expired")
	// ErrNotReady: the verifier has not read the feed to its end yet.
	ErrNotReady = errors.New("verifier: not caught up with the ledger yet")
	// ErrStale: the feed has not been read to its end for longer than
	// Config.MaxStaleness; the verifier fails closed rather than trust an
	// old token set.
	ErrStale = errors.New("verifier: token feed lost for longer than the staleness bound")
	// ErrKeyNotTrusted: the ledger announces a signing key that is not
	// among Config.LedgerKeys (it rotated its key): the verifier cannot
	// check the feed's new events and fails closed until it is given the
	// new key.
	ErrKeyNotTrusted = errors.New("verifier: the ledger signs the feed with a key this verifier was not given")
)

// DefaultMaxStaleness is [Config.MaxStaleness]'s default.
const DefaultMaxStaleness = 30 * time.Second

// Config configures a [Verifier]. The zero value is usable.
type Config struct {
	// MaxStaleness is how long the feed may go without being read to its
	// end before Verify fails with ErrStale (default DefaultMaxStaleness).
	// A negative value never fails closed (not recommended: a verifier
	// cut off from the feed would accept revoked tokens for ever).
	MaxStaleness time.Duration
	// Poll is how often the feed is read without a wake-up (default: a
	// third of MaxStaleness, at most feed.DefaultPoll), so that a quiet
	// feed does not look lost.
	Poll time.Duration
	// RequestWait bounds one read of the feed (default: half of
	// MaxStaleness, at most feed.DefaultRequestWait).
	RequestWait time.Duration
	// RetryWait is the pause before following again after the feed could
	// not be read (default 500ms).
	RetryWait time.Duration
	// OnRevoke is called once for every token that stops verifying as
	// revoked, after the token set applied the event (Verify already
	// rejects the token): at its token.revoked, or, when that comes first,
	// at the deletion of its project (the last it lists), environment or
	// owner (Change.Type is then project.deleted, environment.deleted,
	// user.deleted or serviceaccount.deleted and Change.Reason the reason
	// the ledger records for it); the token.revoked the ledger appends
	// for it later is not reported again. OnExpire is called for every
	// token.expired event. They are called from the
	// verifier's goroutine, also during the first replay
	// (Change.Replayed), and should not block.
	OnRevoke func(Change)
	OnExpire func(Change)
	// VerifyEvent, when set, checks every feed event before it is applied
	// (for example a signature, once the ledger signs its events); an event
	// it refuses is not applied and is reported to OnError.
	VerifyEvent func(feed.Event) error
	// OnError receives what the verifier skips or retries: a feed event it
	// cannot apply, the feed unreachable. Nil discards them. Errors never
	// hold a secret.
	OnError func(error)
	// Now is the clock Verify checks expiries with (default time.Now).
	Now func() time.Time
	// IgnoreHeartbeat stops Verify from failing closed when the feed
	// publisher's heartbeat ([feed.HeartbeatSubject]) is not heard for
	// longer than MaxStaleness. Leave it false with a tokenledger server:
	// the heartbeat is what tells a quiet ledger from a publisher that
	// stopped following it (its disk cap reached, the ledger stopped at a
	// tampered event), in which case the feed, however often it is read,
	// no longer holds every revocation.
	IgnoreHeartbeat bool
	// LedgerKeys are the ledger's verifier keys ("<name>+<id>+<base64>",
	// from GET /api/ledger/checkpoint or the ledger's start-up log) that
	// may sign feed events; an event not signed by one of them is refused
	// (reported to OnError, never applied). Empty: the keys the ledger's
	// heartbeat announces are trusted on first use, a rotated key too;
	// give them to pin the ledger (a heartbeat announcing another key then
	// fails Verify closed with ErrKeyNotTrusted).
	LedgerKeys []string
	// AllowUnsigned accepts feed events without a signature (a feed
	// written by something other than a tokenledger server). Not
	// recommended: anyone who can write to the feed can then plant a token.
	AllowUnsigned bool
}

// Change is a revocation (a token.revoked, or the deletion of what the
// token acts for) or an expiry as the feed delivered it.
type Change struct {
	// Type is events.TypeTokenRevoked or events.TypeTokenExpired, or the
	// deletion that revoked the token (events.TypeProjectDeleted,
	// TypeEnvironmentDeleted, TypeUserDeleted, TypeServiceAccountDeleted).
	Type string
	// Token is the token after the event.
	Token tokenset.Token
	// LedgerSequence is the event's sequence in the ledger.
	LedgerSequence uint64
	// Time is when the ledger recorded the event.
	Time time.Time
	// Reason is the revocation's reason (an events.Reason* constant).
	Reason string
	// Replayed is true for events delivered before the verifier first
	// caught up (history, not news).
	Replayed bool
}

// Stats is what a verifier knows about its freshness.
type Stats struct {
	// Ready is true once the feed was read to its end once.
	Ready bool
	// FeedSequence is the last feed sequence handled; LedgerSequence the
	// ledger sequence of the last event applied.
	FeedSequence   uint64
	LedgerSequence uint64
	// LastEventTime is when the ledger recorded the last event applied
	// (zero before the first); LastEventAge is its age.
	LastEventTime time.Time
	LastEventAge  time.Duration
	// SyncedAt is the last moment up to which every feed event was
	// applied; Staleness is its age (Verify fails closed once it exceeds
	// Config.MaxStaleness).
	SyncedAt  time.Time
	Staleness time.Duration
	// HeartbeatAt is when the verifier last had applied everything the
	// feed publisher's heartbeat announced (zero before the first);
	// HeartbeatAge is its age (before the first: the verifier's age) (Verify fails closed once it exceeds
	// Config.MaxStaleness, unless Config.IgnoreHeartbeat).
	HeartbeatAt  time.Time
	HeartbeatAge time.Duration
	// Tokens is the number of tokens in the set, revoked ones included.
	Tokens int
}

// Verifier is a token set that follows the ledger's token feed. Create it
// with [Connect] or [New]; it is safe for concurrent use.
type Verifier struct {
	cfg   Config
	nc    *nats.Conn
	owned bool // Close closes nc
	set   *tokenset.Set

	ready     chan struct{}
	readyOnce sync.Once
	// synced is the last catch-up moment on the monotonic clock, as
	// nanoseconds after base (+1, so that 0 means never): staleness is
	// real elapsed time, whatever Config.Now says.
	base    time.Time
	synced  atomic.Int64
	feedSeq atomic.Uint64
	// appliedFeed is the last feed sequence whose event is in the set
	// (feedSeq is stored before the event is applied).
	appliedFeed atomic.Uint64
	lastEvent   atomic.Int64 // unix nanoseconds of the last applied event's Time
	// beat is the monotonic moment (as synced) of the last heartbeat
	// whose feed sequence was applied: the feed was complete then.
	beat atomic.Int64
	wake chan struct{}

	kmu        sync.RWMutex
	keys       feed.Keys
	pinned     bool
	keyed      chan struct{} // closed once a key is trusted
	keyedOnce  sync.Once
	foreignKey atomic.Bool // a heartbeat announced a key not pinned

	// chainLast is the ledger sequence of the last signed feed event
	// checked (the verifier's goroutine only); broken is set once an event
	// did not follow it (chained).
	chainLast uint64
	broken    atomic.Bool

	mu      sync.Mutex
	handled uint64        // ledger sequence of the last event applied whose hook ran
	applied chan struct{} // closed (and replaced) when an event is handled and someone waits
	waiting bool
	beats   []pendingBeat // heartbeats announcing feed events not applied yet, oldest first

	cancel context.CancelFunc
	done   chan struct{}
	runErr error
}

// New returns a verifier that follows the feed on nc, a reader's
// connection, once [Verifier.Run] runs. Use [Start] to run it in the
// background.
func New(nc *nats.Conn, cfg Config) *Verifier {
	if cfg.MaxStaleness == 0 {
		cfg.MaxStaleness = DefaultMaxStaleness
	}
	bound := cfg.MaxStaleness
	if bound < 0 {
		bound = 3 * feed.DefaultPoll
	}
	if cfg.Poll <= 0 {
		cfg.Poll = min(feed.DefaultPoll, bound/3)
	}
	if cfg.RequestWait <= 0 {
		cfg.RequestWait = min(feed.DefaultRequestWait, bound/2)
	}
	if cfg.RetryWait <= 0 {
		cfg.RetryWait = 500 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &Verifier{cfg: cfg, nc: nc, set: tokenset.New(), ready: make(chan struct{}), applied: make(chan struct{}),
		base: time.Now(), wake: make(chan struct{}, 1), keyed: make(chan struct{})}
	for _, k := range cfg.LedgerKeys {
		if err := v.keys.Add(k); err != nil {
			v.report(fmt.Errorf("verifier: LedgerKeys: %w", err))
			continue
		}
		v.pinned = true
	}
	if v.pinned || cfg.AllowUnsigned {
		v.keyedOnce.Do(func() { close(v.keyed) })
	}
	return v
}

// Start is New and Run in the background, until Close.
func Start(nc *nats.Conn, cfg Config) *Verifier {
	v := New(nc, cfg)
	v.start()
	return v
}

func (v *Verifier) start() {
	ctx, cancel := context.WithCancel(context.Background())
	v.cancel, v.done = cancel, make(chan struct{})
	go func() {
		defer close(v.done)
		v.runErr = v.Run(ctx)
	}()
}

// Connection says how to reach the ledger's NATS listener as a reader.
type Connection struct {
	// URL is the server's address, e.g. nats://127.0.0.1:4222 (several,
	// comma-separated, for a cluster).
	URL string
	// NkeySeedFile is the file holding the reader's nkey seed (the public
	// key is in the ledger's --nats-readers). Or CredsFile (a user JWT and
	// seed, for an operator-run NATS), or User and Password.
	NkeySeedFile string
	CredsFile    string
	User         string
	Password     string
	// TLS, when set, is the TLS configuration of the connection (its
	// RootCAs and client certificate).
	TLS *tls.Config
	// Name is the connection's name as the server shows it (default
	// "tokenledger-verifier").
	Name string
	// Options are more nats.go options, applied last.
	Options []nats.Option
}

// options are c's nats.go options: reconnect for ever, so that a verifier
// recovers on its own when the server returns.
func (c Connection) options() ([]nats.Option, error) {
	name := c.Name
	if name == "" {
		name = "tokenledger-verifier"
	}
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(false)}
	if c.NkeySeedFile != "" {
		o, err := nats.NkeyOptionFromSeed(c.NkeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("verifier: nkey seed: %w", err)
		}
		opts = append(opts, o)
	}
	if c.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.User != "" {
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if c.TLS != nil {
		opts = append(opts, nats.Secure(c.TLS))
	}
	return append(opts, c.Options...), nil
}

// Connect connects to the ledger's NATS listener as a reader and starts a
// verifier on that connection; Close stops it and closes the connection.
// Wait for [Verifier.Ready] before serving.
func Connect(c Connection, cfg Config) (*Verifier, error) {
	nc, err := c.Dial()
	if err != nil {
		return nil, err
	}
	v := New(nc, cfg)
	v.owned = true
	v.start()
	return v, nil
}

// Close stops a verifier made by Connect or Start (closing the connection
// Connect made) and waits until it stopped.
func (v *Verifier) Close() error {
	if v.cancel != nil {
		v.cancel()
		<-v.done
	}
	if v.owned {
		v.nc.Close()
	}
	if errors.Is(v.runErr, context.Canceled) {
		return nil
	}
	return v.runErr
}

// Run replays the feed into the token set and follows it until ctx ends
// (it then returns ctx.Err()). When the feed cannot be read it reports the
// error to Config.OnError and follows again after Config.RetryWait, from
// the next event: a verifier survives a server restart.
func (v *Verifier) Run(ctx context.Context) error {
	sub, err := v.nc.Subscribe(feed.HeartbeatSubject, v.onHeartbeat)
	if err != nil {
		return fmt.Errorf("verifier: subscribe %s: %w", feed.HeartbeatSubject, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	// The feed's events are checked against the ledger's key: without a
	// pinned one, wait for the heartbeat that announces it.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-v.keyed:
	}
	for {
		f := feed.Follower{Conn: v.nc, From: v.feedSeq.Load() + 1, Poll: v.cfg.Poll, RequestWait: v.cfg.RequestWait,
			CaughtUp: v.caughtUp, Wake: v.wake}
		err := f.Run(ctx, v.apply)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		v.report(fmt.Errorf("verifier: following the token feed (retrying): %w", err))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(v.cfg.RetryWait):
		}
	}
}

func (v *Verifier) report(err error) {
	if v.cfg.OnError != nil {
		v.cfg.OnError(err)
	}
}

// caughtUp records that every event stored before at was applied.
func (v *Verifier) caughtUp(at time.Time) {
	v.synced.Store(int64(at.Sub(v.base)) + 1)
	v.readyOnce.Do(func() { close(v.ready) })
}

// pendingBeat is a heartbeat received before the verifier applied the
// feed events it announces.
type pendingBeat struct {
	hb feed.Heartbeat
	at int64 // when it arrived, as synced
}

// maxPendingBeats bounds the heartbeats kept while the verifier catches
// up (a second's beats each): one that lags more is stale anyway.
const maxPendingBeats = 16

// now is the monotonic moment as synced and beat store it.
func (v *Verifier) now() int64 { return int64(time.Since(v.base)) + 1 }

// onHeartbeat takes a heartbeat: once the verifier has applied the feed up
// to its feed sequence, the token set holds every change up to its ledger
// sequence (WaitFor returns for it) and the feed was complete then.
func (v *Verifier) onHeartbeat(m *nats.Msg) {
	hb, err := feed.ParseHeartbeat(m.Data)
	if err != nil {
		v.report(fmt.Errorf("verifier: %w", err))
		return
	}
	if !v.cfg.AllowUnsigned {
		// Readers can make the server publish stored feed events here.
		if err := feed.CheckHeartbeat(hb, m.Header.Get(feed.KeyHeader), m.Header.Get(feed.SignatureHeader), m.Data); err != nil {
			v.report(fmt.Errorf("verifier: heartbeat refused: %w", err))
			return
		}
	}
	v.trustAnnounced(hb.VerifierKey)
	p := pendingBeat{hb: hb, at: v.now()}
	// Checked under mu: apply stores appliedFeed before it takes mu to settle
	// the pending heartbeats, so a heartbeat is either seen satisfied here
	// or settled there.
	v.mu.Lock()
	if hb.FeedSequence <= v.appliedFeed.Load() {
		v.mu.Unlock()
		v.beaten(p)
		return
	}
	// The live copies of the events it announces are usually on their
	// way: the server republished them before the publisher beat, but they
	// travel on another subscription, whose callbacks race this one's.
	// Read the feed only when an earlier heartbeat announced events that
	// are still missing (their live copies were lost, a slow connection
	// say): a read on every such race costs the ledger a Direct Get per
	// verifier per event, for nothing.
	behind := len(v.beats) > 0 // every pending beat announces events not applied
	if len(v.beats) < maxPendingBeats {
		v.beats = append(v.beats, p)
	}
	v.mu.Unlock()
	if !behind {
		return
	}
	select { // read the feed now: it holds events this verifier has not read
	case v.wake <- struct{}{}:
	default:
	}
}

// trustAnnounced takes the key a heartbeat announces: trusted when no key
// was pinned; a pinned verifier that hears another fails closed.
func (v *Verifier) trustAnnounced(vkey string) {
	if vkey == "" || v.cfg.AllowUnsigned {
		return
	}
	var probe feed.Keys
	if err := probe.Add(vkey); err != nil {
		v.report(fmt.Errorf("verifier: heartbeat: %w", err))
		return
	}
	if v.pinned {
		v.kmu.RLock()
		known := v.keys.Knows(vkey)
		v.kmu.RUnlock()
		v.foreignKey.Store(!known)
		return
	}
	v.kmu.Lock()
	err := v.keys.Add(vkey)
	v.kmu.Unlock()
	if err == nil {
		v.keyedOnce.Do(func() { close(v.keyed) })
	}
}

// beaten records a heartbeat whose announced feed events are applied.
func (v *Verifier) beaten(p pendingBeat) {
	if p.at > v.beat.Load() {
		v.beat.Store(p.at)
	}
	v.notify(p.hb.LedgerSequence)
}

// heartbeatsUpTo records the pending heartbeats the feed sequence fseq
// satisfies.
func (v *Verifier) heartbeatsUpTo(fseq uint64) {
	v.mu.Lock()
	var done []pendingBeat
	n := 0
	for n < len(v.beats) && v.beats[n].hb.FeedSequence <= fseq {
		done = append(done, v.beats[n])
		n++
	}
	v.beats = v.beats[n:]
	v.mu.Unlock()
	for _, p := range done {
		v.beaten(p)
	}
}

// apply applies one feed event. It never stops the follow: an event that
// cannot be applied is skipped and reported, so that a bad event cannot
// hold back later revocations.
func (v *Verifier) apply(ev feed.Event) error {
	v.feedSeq.Store(ev.Sequence) // handled, applied or not: never read again
	v.applyEvent(ev)
	// Only now, with the event in the set and its hooks run, may a
	// heartbeat that announced it count.
	v.appliedFeed.Store(ev.Sequence)
	v.heartbeatsUpTo(ev.Sequence)
	return nil
}

// applyEvent applies one feed event to the set and runs its hooks.
func (v *Verifier) applyEvent(ev feed.Event) {
	if !v.cfg.AllowUnsigned {
		v.kmu.RLock()
		err := v.keys.Check(ev)
		v.kmu.RUnlock()
		if err != nil {
			v.report(fmt.Errorf("verifier: refused, not applied: %w", err))
			return
		}
		if !v.chained(ev) {
			return
		}
	}
	if v.cfg.VerifyEvent != nil {
		if err := v.cfg.VerifyEvent(ev); err != nil {
			v.report(fmt.Errorf("verifier: feed sequence %d refused, not applied: %w", ev.Sequence, err))
			return
		}
	}
	env, err := ev.Envelope()
	if err != nil {
		v.report(fmt.Errorf("verifier: not applied: %w", err))
		return
	}
	if env.Sequence <= v.set.LastApplied() {
		return // a copy of a ledger event applied already
	}
	// A token already revoked (or orphaned) was reported when it stopped
	// verifying; its later token.revoked is not reported again.
	wasValid := false
	if env.Type == events.TypeTokenRevoked {
		t, ok := v.set.ByID(env.AggregateID)
		wasValid = ok && !t.Revoked && !t.Orphaned
	}
	orphaned, err := v.set.ApplyOrphans(env)
	if err != nil {
		v.report(fmt.Errorf("verifier: feed sequence %d not applied: %w", ev.Sequence, err))
		return
	}
	v.lastEvent.Store(env.Time.UnixNano())
	defer v.notify(env.Sequence) // after the hooks: WaitFor returns once they ran
	replayed := !v.isReady()
	switch {
	case env.Type == events.TypeTokenRevoked && wasValid && v.cfg.OnRevoke != nil:
		t, _ := v.set.ByID(env.AggregateID)
		v.cfg.OnRevoke(Change{Type: env.Type, Token: t, LedgerSequence: env.Sequence, Time: env.Time,
			Reason: t.RevokeReason, Replayed: replayed})
	case env.Type == events.TypeTokenExpired && v.cfg.OnExpire != nil:
		t, _ := v.set.ByID(env.AggregateID)
		v.cfg.OnExpire(Change{Type: env.Type, Token: t, LedgerSequence: env.Sequence, Time: env.Time,
			Reason: t.RevokeReason, Replayed: replayed})
	case len(orphaned) > 0 && v.cfg.OnRevoke != nil:
		reason := deletionReason(env.Type)
		for _, t := range orphaned {
			v.cfg.OnRevoke(Change{Type: env.Type, Token: t, LedgerSequence: env.Sequence, Time: env.Time,
				Reason: reason, Replayed: replayed})
		}
	}
}

// deletionReason is the revocation reason the ledger records for the
// tokens a deletion of type typ orphans.
func deletionReason(typ string) string {
	switch typ {
	case events.TypeProjectDeleted:
		return events.ReasonProjectDeleted
	case events.TypeEnvironmentDeleted:
		return events.ReasonEnvironmentDeleted
	}
	return events.ReasonOwnerDeleted
}

func (v *Verifier) notify(seq uint64) {
	v.mu.Lock()
	v.handled = max(v.handled, seq)
	if v.waiting {
		close(v.applied)
		v.applied, v.waiting = make(chan struct{}), false
	}
	v.mu.Unlock()
}

func (v *Verifier) isReady() bool {
	select {
	case <-v.ready:
		return true
	default:
		return false
	}
}

// Ready is closed once the verifier read the feed to its end for the first
// time: from then on Verify answers (unless the feed is lost for longer
// than the staleness bound).
func (v *Verifier) Ready() <-chan struct{} { return v.ready }

// WaitFor waits until the token set holds every change up to ledger
// sequence seq and the hooks of those changes ran, or ctx ends. Any ledger
// sequence will do, a mutation's X-Ledger-Sequence included: when it is not
// a feed event (a batch that ends with a name's release, as a user's
// deletion does), the publisher's next heartbeat (within about 20 ms of
// the feed being complete) names it. It also waits until the verifier is
// ready, so that Verify answers once it returns.
func (v *Verifier) WaitFor(ctx context.Context, seq uint64) error {
	select { // and Verify answers
	case <-ctx.Done():
		return fmt.Errorf("verifier: wait for ledger sequence %d: %w", seq, ctx.Err())
	case <-v.ready:
	}
	for {
		v.mu.Lock()
		if v.handled >= seq {
			v.mu.Unlock()
			return nil
		}
		ch := v.applied
		v.waiting = true
		v.mu.Unlock()
		select {
		case <-ctx.Done():
			return fmt.Errorf("verifier: wait for ledger sequence %d: %w", seq, ctx.Err())
		case <-ch:
		}
	}
}

// Verify checks a presented secret now: the token and nil when it is
// valid; otherwise ErrUnknown, ErrRevoked or ErrExpired (with the token),
// or ErrNotReady or ErrStale (fail closed, whatever the secret). The
// secret is hashed and compared in constant time; it is never kept or
// logged. Verify allocates only the copy of the token it returns (the set
// keeps its tokens as compact records): a copy of the token as it was
// when checked, which later events do not change.
func (v *Verifier) Verify(secret string) (*tokenset.Token, error) {
	if err := v.fresh(); err != nil {
		return nil, err
	}
	t, st := v.set.VerifyAt(secret, v.cfg.Now())
	switch st {
	case tokenset.Valid:
		return t, nil
	case tokenset.Revoked:
		return t, ErrRevoked
	case tokenset.Expired:
		return t, ErrExpired
	}
	return nil, ErrUnknown
}

// fresh fails closed before the first catch-up and when the last one is
// older than the staleness bound.
func (v *Verifier) fresh() error {
	synced := v.synced.Load()
	if synced == 0 {
		return ErrNotReady
	}
	if v.foreignKey.Load() {
		return ErrKeyNotTrusted
	}
	if v.broken.Load() {
		return ErrFeedBroken
	}
	if v.cfg.MaxStaleness <= 0 {
		return nil
	}
	if v.staleness(synced) > v.cfg.MaxStaleness {
		return ErrStale
	}
	// The feed publisher must have said, within the bound, that the feed
	// was complete (counted from the verifier's start before its first
	// heartbeat).
	if !v.cfg.IgnoreHeartbeat && v.staleness(max(v.beat.Load(), 1)) > v.cfg.MaxStaleness {
		return ErrStale
	}
	return nil
}

// staleness is the time since the catch-up recorded as synced.
func (v *Verifier) staleness(synced int64) time.Duration {
	return time.Since(v.base) - time.Duration(synced-1)
}

// Stats reports the verifier's position and freshness.
func (v *Verifier) Stats() Stats {
	now := v.cfg.Now()
	s := Stats{Ready: v.isReady(), FeedSequence: v.feedSeq.Load(), LedgerSequence: v.set.LastApplied(), Tokens: v.set.Len()}
	if n := v.lastEvent.Load(); n != 0 {
		s.LastEventTime = time.Unix(0, n).UTC()
		s.LastEventAge = now.Sub(s.LastEventTime)
	}
	if n := v.synced.Load(); n != 0 {
		s.SyncedAt = v.base.Add(time.Duration(n - 1)).UTC()
		s.Staleness = v.staleness(n)
	}
	if n := v.beat.Load(); n != 0 {
		s.HeartbeatAt = v.base.Add(time.Duration(n - 1)).UTC()
	}
	s.HeartbeatAge = v.staleness(max(v.beat.Load(), 1))
	return s
}

// Tokens is the verifier's token set (read-only use: lookups by id,
// project, owner).
func (v *Verifier) Tokens() *tokenset.Set { return v.set }

// Dial connects to the ledger's NATS listener as c says (reconnecting for
// ever), for a reader that follows the feed itself (projections/feed).
func (c Connection) Dial() (*nats.Conn, error) {
	opts, err := c.options()
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(c.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("verifier: connect to %s: %w", c.URL, err)
	}
	return nc, nil
}
