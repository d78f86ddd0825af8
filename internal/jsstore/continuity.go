package jsstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tokenledger/tokenledger/events"
)

// stallConfirmations is how many stall checks in a row (Config.StallCheck
// apart) must find the next sequence missing before a read reports it: a
// lagging replica answering a Direct Get catches up between two.
const stallConfirmations = 2

// checkState refuses to read a stream whose own state shows lost events
// from sequence from on: a first sequence above 1, deleted sequences, or
// fewer messages than sequences. The stream denies deletes and purges, so
// each is tampering (or a damaged store) and is returned as an
// [events.TamperError] naming the first missing sequence.
func (s *Store) checkState(ctx context.Context, from uint64) error {
	info, err := s.stream.Info(ctx, jetstream.WithDeletedDetails(true))
	if err != nil {
		return fmt.Errorf("jsstore: stream %s info: %w", s.name, err)
	}
	st := info.State
	if st.LastSeq == 0 {
		return nil
	}
	var missing []uint64
	if st.FirstSeq > 1 {
		missing = append(missing, 1)
	}
	missing = append(missing, st.Deleted...)
	// A count below the sequences without a deleted one to name: the read
	// itself finds the hole (a skipped or an unreadable sequence).
	if len(missing) == 0 {
		return nil
	}
	first := slices.Min(missing)
	if first < from {
		return nil // before what this read delivers: a reader from 1 reports it
	}
	return &events.TamperError{Seq: first, Kind: events.TamperGap,
		Err: fmt.Errorf("jsstore: stream %s holds %d messages for sequences %d to %d (%d deleted)", s.name, st.Msgs, st.FirstSeq, st.LastSeq, st.NumDeleted)}
}

// watchStall ends the read d with an [events.TamperError] when it stops
// advancing while the stream says it holds later sequences and the next
// one cannot be read: a damaged record (the newest, too) is reported, not
// waited for. It returns when stop is closed or ctx is done, then calls
// done.
func (s *Store) watchStall(ctx context.Context, d *delivery, stop <-chan struct{}, done func()) {
	defer done()
	tick := time.NewTicker(s.cfg.StallCheck)
	defer tick.Stop()
	seen, misses := uint64(0), 0
	first := true
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		d.mu.Lock()
		done, last := d.done, d.last
		d.mu.Unlock()
		if done {
			return
		}
		if !first && last != seen {
			seen, misses = last, 0
			continue // advancing
		}
		first, seen = false, last
		missing, err := s.unreadable(ctx, last+1)
		if err != nil || !missing {
			misses = 0
			continue // cannot tell now, or simply nothing new yet
		}
		misses++
		if misses < stallConfirmations {
			continue
		}
		d.mu.Lock()
		if d.done || d.last != last {
			d.mu.Unlock()
			misses = 0
			continue
		}
		d.fail(&events.TamperError{Seq: last + 1, Kind: events.TamperUnreadable,
			Err: fmt.Errorf("jsstore: stream %s: sequence %d is stored but cannot be read", s.name, last+1)})
		d.mu.Unlock()
		return
	}
}

// unreadable reports whether the stream's last sequence is at least seq
// while no message at seq can be read, or the one there is not a record a
// consumer delivers.
func (s *Store) unreadable(ctx context.Context, seq uint64) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.js.Options().DefaultTimeout)
	defer cancel()
	last, err := s.LastSequence(ctx)
	if err != nil || last < seq {
		return false, err
	}
	msgs, err := s.directBatch(ctx, "", seq, 1)
	if errors.Is(err, errNoMessages) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	// A record the ledger never writes, with no data or with a Status
	// header: a consumer takes it for the server's own control message
	// and never delivers it.
	m := msgs[0]
	return m.Sequence != seq || len(m.Data) == 0 || len(m.Header.Values("Status")) > 0, nil
}
