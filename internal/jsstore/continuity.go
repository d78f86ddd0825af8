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
		why, err := s.unreadable(ctx, last+1)
		if err != nil || why == "" {
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
			Err: fmt.Errorf("jsstore: stream %s: sequence %d is stored but cannot be read: %s", s.name, last+1, why)})
		d.mu.Unlock()
		return
	}
}

// unreadable tells why, while the stream's last sequence is at least
// seq, the record at seq is not one a consumer delivers ("" when it is,
// or when the stream does not hold seq yet): no message can be read
// there; the one there has no data or a Status header (a consumer takes
// it for the server's own control message); or it is larger than the
// consumer's byte window (pullMaxBytes), so that no pull request can
// carry it (nats-server answers each "409 Message Size Exceeds MaxBytes"
// and the client library asks again at once, for ever). The ledger's own
// records are far smaller (MaxMsgSize); a stream it did not create may
// allow larger ones.
func (s *Store) unreadable(ctx context.Context, seq uint64) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.js.Options().DefaultTimeout)
	defer cancel()
	last, err := s.LastSequence(ctx)
	if err != nil || last < seq {
		return "", err
	}
	msgs, err := s.directBatch(ctx, "", seq, 1)
	if errors.Is(err, errNoMessages) {
		return "no message can be read there", nil
	}
	if err != nil {
		return "", err
	}
	m := msgs[0]
	switch {
	case m.Sequence != seq:
		return fmt.Sprintf("the next readable message is at %d", m.Sequence), nil
	case len(m.Data) == 0 || len(m.Header.Values("Status")) > 0:
		return "it has no data or a Status header, as the server's control messages", nil
	}
	if size := deliveredSize(m); size > pullMaxBytes-pullReplySlack {
		return fmt.Sprintf("%d bytes, more than a pull request of %d carries", size, pullMaxBytes), nil
	}
	return "", nil
}

// pullReplySlack is room for what a consumer's delivery adds to a record's
// size as the server counts it against a pull's bytes (the ack reply
// subject, well under it).
const pullReplySlack = 1 << 10

// deliveredSize is at least the size of m as the server counts it against
// a pull request's bytes, the reply aside: subject, headers (the Direct
// Get answer's, which add the server's own to the stored ones) and data.
func deliveredSize(m *jetstream.RawStreamMsg) int {
	n := len(m.Subject) + len(m.Data) + len("NATS/1.0\r\n\r\n")
	for k, vs := range m.Header {
		for _, v := range vs {
			n += len(k) + len(": \r\n") + len(v)
		}
	}
	return n
}
