package service

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/projections"
	"github.com/tokenledger/tokenledger/projections/auditlog"
	"github.com/tokenledger/tokenledger/projections/directory"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// wholeLogCheck is the start's check of the records a restored snapshot
// covers (1..upTo): each stored record must be the leaf the snapshot's
// tree holds, under its event's subject, with no gap. Reading the whole
// stream is most of a start's cost at a million events, so it runs once
// the service is ready, and until it is done:
//
//   - every record 1..upTo the service reads for any other purpose (a
//     command folding an aggregate, an audit page or export, a token's
//     history, the state at a past moment) is hashed and compared with
//     the tree's leaf before it is used; one that differs is refused;
//   - the readers' feed publishes nothing it covers.
//
// If it finds a record that is not the tree's, the service fails closed as
// when a start-up replay finds it: the same replay (with a fresh key chain
// and fresh projections, up to upTo) names the sequence and kind, and the
// projections stop with that error (health and ready answer
// LEDGER_TAMPERED, every other route 503, nothing more is appended).
type wholeLogCheck struct {
	upTo uint64
	tree *integrity.Tree
	// chains is the restored aggregate chains, live: a command's read of
	// one aggregate is checked against its head (see chainHead).
	chains *projections.Chains
	// hold, when not nil, delays the check until it is closed (tests: the
	// service's answers while the check is pending).
	hold chan struct{}

	once sync.Once
	done chan struct{} // closed when the check ended
	err  error         // why it failed; read after done is closed
}

func newWholeLogCheck() *wholeLogCheck { return &wholeLogCheck{done: make(chan struct{})} }

// arm sets what the check covers, before the service reads anything.
func (c *wholeLogCheck) arm(upTo uint64, tree *integrity.Tree, chains *projections.Chains) {
	c.upTo, c.tree, c.chains = upTo, tree, chains
}

// pending reports whether the check has not ended yet.
func (c *wholeLogCheck) pending() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// finish ends the check with err (nil: every record matched).
func (c *wholeLogCheck) finish(err error) {
	c.once.Do(func() {
		c.err = err
		close(c.done)
	})
}

// Wait blocks until the check ended and returns why it failed (an
// *events.TamperError when the stream was tampered with), nil when every
// record matched or there was nothing to check.
func (c *wholeLogCheck) Wait(ctx context.Context) error {
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// found is the tampering the check found, nil while it runs or when it
// passed.
func (c *wholeLogCheck) found() *events.TamperError {
	select {
	case <-c.done:
		return events.AsTamper(c.err)
	default:
		return nil
	}
}

// covers reports whether the record at seq is yet to be checked; err is
// why the check failed (then nothing it covers may be used).
func (c *wholeLogCheck) covers(seq uint64) (bool, error) {
	if c == nil || seq == 0 || seq > c.upTo {
		return false, nil
	}
	select {
	case <-c.done:
		if c.err != nil {
			return true, fmt.Errorf("%w: service: the start's whole-log check failed: %w", commands.ErrUnavailable, c.err)
		}
		return false, nil
	default:
		return true, nil
	}
}

// record checks the stored bytes of the record at seq when the check has
// not reached it yet: they must be the leaf the tree holds.
func (c *wholeLogCheck) record(seq uint64, data []byte) error {
	pending, err := c.covers(seq)
	if err != nil || !pending {
		return err
	}
	if want, err := c.tree.LeafHash(seq); err != nil || tlog.RecordHash(data) != want {
		return fmt.Errorf("%w: service: the record stored at sequence %d is not the one the ledger's tree holds", commands.ErrUnavailable, seq)
	}
	return nil
}

// envelope is record for a decoded event (its stored bytes).
func (c *wholeLogCheck) envelope(env *events.Envelope) error {
	return c.record(env.Sequence, env.Stored())
}

// run checks the records; on a mismatch it names the tampering with a
// full replay (diagnose) and finishes with it.
func (m *Main) runWholeLogCheck(ctx context.Context) error {
	c := m.check
	if c.upTo == 0 {
		c.finish(nil)
		return nil
	}
	if c.hold != nil {
		select {
		case <-c.hold:
		case <-ctx.Done():
			c.finish(ctx.Err())
			return ctx.Err()
		}
	}
	start := time.Now()
	var mis *recordMismatch
	for {
		// A deadline of its own: without one each request of the read
		// would get the client's default (seconds), short on a busy start.
		actx, cancel := context.WithTimeout(ctx, time.Hour)
		err := checkRecords(actx, m.Store, c.upTo, c.tree)
		cancel()
		if err == nil {
			m.log.Info("whole-log check: every record the snapshot covers is the one its tree holds",
				"through", c.upTo, "duration_seconds", time.Since(start).Seconds())
			c.finish(nil)
			return nil
		}
		if errors.As(err, &mis) {
			break
		}
		if te := events.AsTamper(err); te != nil { // the read met a gap or an unreadable record
			mis = &recordMismatch{Seq: te.Seq, Detail: te.Error()}
			break
		}
		if ctx.Err() != nil { // shutting down: nothing vouched for
			c.finish(ctx.Err())
			return ctx.Err()
		}
		// The stream could not be read (a busy or restarting server):
		// what the check covers stays checked record by record meanwhile.
		m.log.Warn("whole-log check: reading the stream failed; trying again", "err", err)
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			c.finish(ctx.Err())
			return ctx.Err()
		}
	}
	te := m.diagnose(ctx, c.upTo)
	if te == nil {
		// The replay accepted the stream, but its records are not the
		// ones the ledger appended (the snapshot's tree is the ledger's own,
		// under its MAC): fail closed naming the first that differs.
		te = &events.TamperError{Seq: mis.Seq, Kind: events.TamperEdited, Err: errors.New(mis.Detail)}
	}
	m.log.Error("whole-log check: the stream does not match the snapshot's tree", "seq", te.Seq, "kind", te.Kind,
		"detail", mis.Detail)
	c.finish(te)
	return nil
}

// diagnose replays the stream from its first event into fresh projections
// with a fresh key chain, as a start without a snapshot does, up to upTo,
// and returns the tampering it names (nil if none).
func (m *Main) diagnose(ctx context.Context, upTo uint64) *events.TamperError {
	ctx, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	rotations, err := m.Store.Load(ctx, events.KindLog, events.KeyAggregate)
	if err != nil {
		return events.AsTamper(err)
	}
	chain, err := m.freshChain(m.key, rotations)
	if err != nil {
		return events.AsTamper(err)
	}
	if _, err := m.trustLastCheckpoint(ctx, chain); err != nil {
		return nil
	}
	return events.AsTamper(m.replayFresh(ctx, chain, upTo))
}

// freshChain is a key chain that knows key (the key file's) and the keys
// the stream's rotations name, anchored in the ledger's key history, and
// has checked no event yet.
func (m *Main) freshChain(key *ledgerkey.Key, rotations []events.Envelope) (*ledgerkey.Chain, error) {
	chain, err := ledgerkey.NewChain(key.VerifierKey())
	if err != nil {
		return nil, err
	}
	if err := chain.Learn(rotations); err != nil {
		return nil, err
	}
	if err := chain.Anchor(m.keyHist, key.VerifierKey()); err != nil {
		return nil, err
	}
	return chain, nil
}

// replayFresh replays the stream from its first event up to upTo into
// fresh projections, as a start without a snapshot does: each event
// checked by chain (its signature, on all CPUs, unless chain trusts a
// checkpoint covering it) and in its aggregate's chain, each checkpoint's
// root compared with the tree of the events before it. It returns nil
// once upTo was applied, else why not: an error holding an
// *events.TamperError when the stream holds events the ledger did not
// write, or the read's own error.
func (m *Main) replayFresh(ctx context.Context, chain *ledgerkey.Chain, upTo uint64) error {
	_, err := m.replayFreshTree(ctx, chain, upTo)
	return err
}

// replayFreshTree is replayFresh returning its integrity projection (the
// tree of the records it applied, the last checkpoint it proved), for
// checks of the replayed stream against what is kept outside it.
func (m *Main) replayFreshTree(ctx context.Context, chain *ledgerkey.Chain, upTo uint64) (*integrity.Log, error) {
	proj := integrity.NewLog()
	r := projections.NewRunner(m.Store, tokenset.New(), directory.New(), auditlog.New(nil), proj)
	r.Verify, r.Precheck, r.Chains = chain.Check, chain.Precheck, projections.NewChains()
	r.DuringCatchUp = m.catchUpGC()
	ctx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		_ = r.Run(ctx)
	}()
	err := r.WaitFor(ctx, upTo)
	stop()
	<-ran
	return proj, err
}

// checkedStore is the store as the service reads it: records the start's
// whole-log check has not reached yet are checked one by one (see
// wholeLogCheck), and Follow (the projections' source) stops with the
// check's finding when it fails.
type checkedStore struct {
	*jsstore.Store
	check *wholeLogCheck
}

// reads is the store as the service reads it (see checkedStore).
func (m *Main) reads() checkedStore { return checkedStore{Store: m.Store, check: m.check} }

// verified wraps the readers' feed's wait: an event the whole-log check
// covers is published once the check passed.
func (c *wholeLogCheck) verified(wait func(context.Context, uint64) error) func(context.Context, uint64) error {
	return func(ctx context.Context, seq uint64) error {
		if pending, err := c.covers(seq); err != nil {
			return err
		} else if pending {
			if err := c.Wait(ctx); err != nil {
				return err
			}
		}
		return wait(ctx, seq)
	}
}

func (s checkedStore) envelopes(evs []events.Envelope, kind, id string) error {
	for i := range evs {
		if err := s.check.envelope(&evs[i]); err != nil {
			return err
		}
		if pending, _ := s.check.covers(evs[i].Sequence); pending && id != "" &&
			(evs[i].AggregateID != id || (kind != "" && evs[i].AggregateKind != kind)) {
			return fmt.Errorf("%w: service: the record at sequence %d is stored under another aggregate", commands.ErrUnavailable, evs[i].Sequence)
		}
	}
	return nil
}

// Load implements [commands.EventStore].
func (s checkedStore) Load(ctx context.Context, kind, id string) ([]events.Envelope, error) {
	return s.LoadAfter(ctx, kind, id, 0)
}

// LoadAfter implements [commands.EventStore]. While the check is pending,
// the aggregate's events must also be its whole chain (see chainHead).
func (s checkedStore) LoadAfter(ctx context.Context, kind, id string, after uint64) ([]events.Envelope, error) {
	head, watch := s.check.chainHead(kind, id)
	evs, err := s.Store.LoadAfter(ctx, kind, id, after)
	if err == nil {
		err = s.envelopes(evs, kind, id)
	}
	if err == nil && watch {
		err = s.check.wholeChain(head, evs, after == 0)
	}
	if err != nil {
		return nil, err
	}
	return evs, nil
}

// Events implements [auditlog.Reader].
func (s checkedStore) Events(ctx context.Context, seqs []uint64) ([]events.Envelope, error) {
	evs, err := s.Store.Events(ctx, seqs)
	if err == nil {
		err = s.envelopes(evs, "", "")
	}
	if err != nil {
		return nil, err
	}
	return evs, nil
}

// Aggregate implements [auditlog.Reader].
func (s checkedStore) Aggregate(ctx context.Context, kind, id string) ([]events.Envelope, error) {
	evs, err := s.Store.Aggregate(ctx, kind, id)
	if err == nil {
		err = s.envelopes(evs, kind, id)
	}
	if err != nil {
		return nil, err
	}
	return evs, nil
}

// EventBytes implements [auditlog.RawReader].
func (s checkedStore) EventBytes(ctx context.Context, seqs []uint64, fn func(seq uint64, data []byte) error) error {
	return s.Store.EventBytes(ctx, seqs, func(seq uint64, data []byte) error {
		if err := s.check.record(seq, data); err != nil {
			return err
		}
		return fn(seq, data)
	})
}

// EventRange implements [auditlog.RangeReader].
func (s checkedStore) EventRange(ctx context.Context, from, to uint64, fn func(seq uint64, data []byte) error) error {
	return s.Store.EventRange(ctx, from, to, func(seq uint64, data []byte) error {
		if err := s.check.record(seq, data); err != nil {
			return err
		}
		return fn(seq, data)
	})
}

// Replay implements [projections.Source].
func (s checkedStore) Replay(ctx context.Context, from, to uint64, fn func(events.Envelope) error) error {
	return s.Store.Replay(ctx, from, to, func(env events.Envelope) error {
		if err := s.check.envelope(&env); err != nil {
			return err
		}
		return fn(env)
	})
}

// ReplayOn implements [projections.SubjectReplayer]. While the check has
// not passed, a range it covers is read whole (a record moved to another
// subject would be missed or added by a read of some subjects) and the
// events whose own subject matches filters are passed on.
func (s checkedStore) ReplayOn(ctx context.Context, filters []string, from, to uint64, fn func(events.Envelope) error) error {
	if pending, err := s.check.covers(max(from, 1)); err != nil {
		return err
	} else if !pending {
		return s.Store.ReplayOn(ctx, filters, from, to, fn)
	}
	return s.Replay(ctx, from, to, func(env events.Envelope) error {
		subject := events.Subject(env.AggregateKind, env.AggregateID, env.Type)
		for _, f := range filters {
			if server.SubjectMatchesFilter(subject, f) {
				return fn(env)
			}
		}
		return nil
	})
}

// Follow implements [projections.Source]: it also stops, with the
// check's finding, when the whole-log check finds tampering.
func (s checkedStore) Follow(ctx context.Context, from uint64, fn func(events.Envelope) error) error {
	return s.follow(ctx, func(ctx context.Context, fn func(events.Envelope) error) error {
		return s.Store.Follow(ctx, from, fn)
	}, fn)
}

// FollowPrepared implements [projections.PreparingSource] as Follow does
// (without it, the embedded store's own FollowPrepared would be the
// Runner's source, and the check's finding would not stop it).
func (s checkedStore) FollowPrepared(ctx context.Context, from uint64, prepare func(*events.Envelope), fn func(events.Envelope) error) error {
	return s.follow(ctx, func(ctx context.Context, fn func(events.Envelope) error) error {
		return s.Store.FollowPrepared(ctx, from, prepare, fn)
	}, fn)
}

// follow runs read, checking each event before fn, and stops it with the
// check's finding when the whole-log check finds tampering.
func (s checkedStore) follow(ctx context.Context, read func(context.Context, func(events.Envelope) error) error, fn func(events.Envelope) error) error {
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-s.check.done:
			if te := events.AsTamper(s.check.err); te != nil {
				cancel(te)
			}
		case <-stop:
		}
	}()
	err := read(fctx, func(env events.Envelope) error {
		if err := s.check.envelope(&env); err != nil {
			return err
		}
		return fn(env)
	})
	if cause := context.Cause(fctx); ctx.Err() == nil && events.AsTamper(cause) != nil {
		return cause
	}
	return err
}

// Load implements [commands.EventStore] (see checkedStore).
func (o observedStore) Load(ctx context.Context, kind, id string) ([]events.Envelope, error) {
	return checkedStore{Store: o.Store, check: o.check}.Load(ctx, kind, id)
}

// LoadAfter implements [commands.EventStore] (see checkedStore).
func (o observedStore) LoadAfter(ctx context.Context, kind, id string, after uint64) ([]events.Envelope, error) {
	return checkedStore{Store: o.Store, check: o.check}.LoadAfter(ctx, kind, id, after)
}

// WaitWholeLogCheck blocks until the start's check of the records a
// restored snapshot covers ended (at once when none was restored), and,
// when it found tampering, until the projections stopped at it. It returns
// the finding (an *events.TamperError), nil when the records matched.
func (m *Main) WaitWholeLogCheck(ctx context.Context) error {
	err := m.check.Wait(ctx)
	if events.AsTamper(err) != nil && m.Runner != nil {
		_ = m.Runner.WaitFor(ctx, math.MaxUint64) // returns once they stopped
	}
	return err
}

// checkedStore must wrap every way the projections read: a method of the
// embedded store that it does not wrap would bypass the check.
var _ projections.PreparingSource = checkedStore{}
