package projections

import (
	"context"

	"github.com/tokenledger/tokenledger/events"
)

// Preparer is a [Projection] with work to do on each event that depends
// on the event alone (a hash of its stored bytes, say): a [Runner] whose
// Source is a [PreparingSource] calls Prepare on the Source's decoding
// goroutine, ahead of Apply, so that the work overlaps the applying of
// the events before it. Prepare may only attach derived data to the
// envelope (see [events.Envelope.SetRecordHash]); it must be safe to
// call concurrently with Apply and must not fail (Apply, which sees the
// event afterwards, decides). Apply must give the same result for an
// event that Prepare never saw.
type Preparer interface {
	Prepare(*events.Envelope)
}

// PreparingSource is a [Source] whose Follow can run prepare on each
// event, in stream order, on the goroutine that reads and decodes the
// events, before fn gets it.
type PreparingSource interface {
	Source
	FollowPrepared(ctx context.Context, from uint64, prepare func(*events.Envelope), fn func(events.Envelope) error) error
}

// prepareFunc is the Prepare of every projection of r that has one, in
// order; nil when none has.
func (r *Runner) prepareFunc() func(*events.Envelope) {
	var ps []Preparer
	for _, p := range r.ps {
		if pp, ok := p.(Preparer); ok {
			ps = append(ps, pp)
		}
	}
	switch len(ps) {
	case 0:
		return nil
	case 1:
		return ps[0].Prepare
	}
	return func(env *events.Envelope) {
		for _, p := range ps {
			p.Prepare(env)
		}
	}
}

// follow is r's Source's Follow, with the projections' Prepare when the
// Source can run it.
func (r *Runner) follow(ctx context.Context, from uint64, fn func(events.Envelope) error) error {
	if ps, ok := r.src.(PreparingSource); ok {
		if prepare := r.prepareFunc(); prepare != nil {
			return ps.FollowPrepared(ctx, from, prepare, fn)
		}
	}
	return r.src.Follow(ctx, from, fn)
}
