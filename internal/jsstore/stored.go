package jsstore

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// ReadStored calls fn with the sequence and the data bytes, exactly as
// stored, of each message of the ledger stream with from ≤ sequence ≤ to,
// in order, reading with Direct Get batches (no consumer). A sequence the
// stream does not hold is skipped: callers that need every sequence
// compare. fn must not keep data past the call unless it owns it (it
// does: every batch is a new buffer).
func (s *Store) ReadStored(ctx context.Context, from, to uint64, fn func(seq uint64, data []byte) error) error {
	if from == 0 {
		from = 1
	}
	if to < from {
		return nil
	}
	err := s.scan(ctx, ">", from, func(m *jetstream.RawStreamMsg) error {
		if m.Sequence > to {
			return errStopScan
		}
		return fn(m.Sequence, m.Data)
	})
	if err == errStopScan {
		return nil
	}
	if err != nil {
		return fmt.Errorf("jsstore: read stored %d to %d: %w", from, to, err)
	}
	return nil
}
