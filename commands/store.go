package commands

import (
	"context"
	"errors"

	"github.com/tokenledger/tokenledger/events"
)

// ErrConflict is returned by an EventStore when an append's expectation
// failed: another event of the aggregate was stored since it was loaded, or
// an aggregate that must not exist yet exists. Exactly one of two concurrent
// writers with the same expectation succeeds; the other gets ErrConflict.
var ErrConflict = errors.New("conflict: the aggregate changed since it was read")

// ErrUnavailable is returned by an EventStore that refuses writes (a stream
// whose configuration is not audit-grade, a sealed or full stream). The
// outcome of the command is: nothing happened.
var ErrUnavailable = errors.New("ledger unavailable")

// ErrFailedClosed is matched (errors.Is) by an EventStore's refusal that
// no wait ends: the store failed closed for good (its stream was deleted
// or replaced, lost events, or let foreign messages in), and only an
// operator and a restart end it. Such a refusal also matches
// ErrUnavailable; its message is the store's own.
var ErrFailedClosed = errors.New("ledger failed closed for good")

// Append is one event to store, with the optimistic-concurrency expectation
// for its aggregate.
type Append struct {
	// Event is sealed (its Hash set) and carries its aggregate's Prev hash.
	Event events.Envelope
	// Expected is the stream sequence of the aggregate's last event; 0 means
	// the aggregate must not exist yet.
	Expected uint64
	// ExpectedFilter, when set, widens the expectation from the event's own
	// aggregate to every event matching this subject filter (e.g.
	// "ledger.environment.>"): Expected is then the last sequence of any
	// event on it. A rule about a set of aggregates (the last environment)
	// holds this way; keep it for rare events, since any event on the
	// filter makes the append conflict.
	ExpectedFilter string
	// MsgID deduplicates retries: the same MsgID inside the stream's
	// duplicate window stores nothing new and returns the first sequence.
	MsgID string
}

// Stored is what an [EventStore.Append] stored.
type Stored struct {
	// Seq is the stream sequence of the batch's last event.
	Seq uint64
	// Duplicate is true when the events had been stored before by an
	// append with the same MsgIDs (a retry, or another ledger process
	// deriving the same ids from the same work) and this call stored
	// nothing; Seq is then the earlier append's.
	Duplicate bool
}

// EventStore is the port the command handlers append through. The JetStream
// adapter in internal/jsstore implements it. Implementations are safe for
// concurrent use.
type EventStore interface {
	// Load returns every event of one aggregate in stream order, each with
	// its Sequence set. An aggregate without events yields an empty slice
	// and no error.
	Load(ctx context.Context, kind, id string) ([]events.Envelope, error)
	// LoadAfter returns the events of one aggregate with a stream sequence
	// above after, in stream order, each with its Sequence set (Load is
	// LoadAfter from 0). An aggregate with nothing newer yields an empty
	// slice and no error. The command handler brings a cached state up to
	// date with it; like Load, it may miss the newest events (a lagging
	// replica), which the append's expectation then catches.
	LoadAfter(ctx context.Context, kind, id string, after uint64) ([]events.Envelope, error)
	// Append stores the events atomically (all or none) and returns the
	// stream sequence of the last one, and whether an earlier append with
	// the same MsgIDs had stored them already (Stored.Duplicate: nothing
	// new was stored). It returns ErrConflict when any expectation fails,
	// ErrUnavailable when the store refuses writes, and another error when
	// the outcome is unknown (retry with the same MsgIDs).
	Append(ctx context.Context, batch ...Append) (Stored, error)
}

// FilterSequencer is an optional EventStore capability: the stream
// sequence of the newest event on a subject filter (0 when none). A rule
// about a set of aggregates reads it before their states and appends with
// it as Append.ExpectedFilter's expectation.
type FilterSequencer interface {
	LastSequenceOn(ctx context.Context, filter string) (uint64, error)
}
