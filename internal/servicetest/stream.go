package servicetest

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
)

// LastSeq is the stream's newest sequence.
func (s *Service) LastSeq() uint64 {
	s.t.Helper()
	seq, err := s.Store.LastSequence(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	return seq
}

// CatchUp waits until the projections applied every event stored so far.
func (s *Service) CatchUp() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := s.Runner.WaitFor(ctx, s.LastSeq()); err != nil {
		s.t.Fatal(err)
	}
}

// Events are the stored events with from ≤ sequence ≤ to.
func (s *Service) Events(from, to uint64) []events.Envelope {
	s.t.Helper()
	var out []events.Envelope
	if err := s.Store.Replay(context.Background(), from, to, func(e events.Envelope) error { out = append(out, e); return nil }); err != nil {
		s.t.Fatal(err)
	}
	return out
}

// LastEvent is the newest event of the stream that is not a claim or
// release of a unique name (those a command appends beside its own
// event); it fails the test if such a name event is attributed
// differently from its command's event.
func (s *Service) LastEvent() events.Envelope {
	s.t.Helper()
	seq := s.LastSeq()
	var got events.Envelope
	err := s.Store.Replay(context.Background(), max(seq, 8)-7, seq, func(e events.Envelope) error {
		if e.AggregateKind != events.KindName {
			got = e
		} else if got.ID != "" && (e.Actor != got.Actor || e.Via != got.Via || e.CommandID != got.CommandID) {
			s.t.Fatalf("name event %s attributed differently from its command's event", e.Type)
		}
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return got
}

// MakeStreamUnsafe gives LEDGER an age limit, as someone with access to
// the stream could, and waits (bounded) until the store noticed it and
// refuses writes.
func (s *Service) MakeStreamUnsafe() {
	s.t.Helper()
	js, err := jetstream.New(s.Conn())
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, jsstore.DefaultStream)
	if err != nil {
		s.t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.MaxAge = time.Hour
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		s.t.Fatal(err)
	}
	WaitFor(s.t, 10*time.Second, func() error {
		if s.Store.Health() == nil {
			return errors.New("the store never noticed the unsafe configuration")
		}
		return nil
	})
}
