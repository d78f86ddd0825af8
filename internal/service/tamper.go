package service

import (
	"fmt"
	"log/slog"

	"github.com/tokenledger/tokenledger/events"
)

// logTamper logs at ERROR, with the sequence and kind, why the projections
// stopped when the stream was found tampered with, and returns nil for it
// (the service keeps serving its probes, which say so); any other error
// is returned as is.
func logTamper(log *slog.Logger, err error) error {
	te := events.AsTamper(err)
	if te == nil {
		return err
	}
	log.Error("ledger tampered: the projections stopped; every API route answers 503 until the stream is restored from a backup",
		"seq", te.Seq, "kind", te.Kind, "err", err)
	return nil
}

// tamperStop is the projections' tamper stop (nil while they run): from
// then on the ledger appends nothing, neither commands (requests, the
// expiry scheduler and sweeper, audit records) nor checkpoints.
func (m *Main) tamperStop() error {
	if te := events.AsTamper(m.Runner.Err()); te != nil {
		return fmt.Errorf("service: the ledger stopped at tampered sequence %d: %w", te.Seq, te)
	}
	return nil
}
