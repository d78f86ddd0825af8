package projections

import (
	"context"

	"github.com/tokenledger/tokenledger/events"
)

// Source is where projections read the stream from. The JetStream adapter in
// internal/jsstore implements it.
type Source interface {
	// LastSequence is the sequence of the newest stored event (0 if none).
	LastSequence(ctx context.Context) (uint64, error)
	// Replay calls fn for each event with from ≤ sequence ≤ to, in order, and
	// returns when the event at to (or the newest, if to is beyond it) was
	// delivered. The first error from fn stops the replay and is returned.
	Replay(ctx context.Context, from, to uint64, fn func(events.Envelope) error) error
	// Follow calls fn for each event with sequence ≥ from, in order, and keeps
	// following new events until ctx is done (it then returns ctx.Err()) or
	// fn returns an error (returned as is). Events are delivered exactly
	// once and without gaps, across reconnects: a sequence the stream lost
	// or cannot read ends Follow with an [events.TamperError] naming it.
	Follow(ctx context.Context, from uint64, fn func(events.Envelope) error) error
}

// Wanter is a Source that can be told a reader waits for the event at a
// sequence (a command's read-your-writes wait), so that Follow delivers
// it by other means if its usual way (a consumer on a node that died)
// lags. [Runner.WaitFor] tells it; Want must not block.
type Wanter interface {
	Want(seq uint64)
}
