package service

import (
	"fmt"
	"log/slog"

	"github.com/tokenledger/tokenledger/events"
)

// logTamper logs at ERROR, with the sequence and kind, why the projections
// stopped when the stream was found tampered with. It is the Runner's
// Stopping hook: the line is out before /health and /ready say
// LEDGER_TAMPERED.
func logTamper(log *slog.Logger, err error) {
	te := events.AsTamper(err)
	if te == nil {
		return
	}
	log.Error("ledger tampered: the projections stopped; every API route answers 503 until the stream is restored from a backup",
		"seq", te.Seq, "kind", te.Kind, "err", err)
}

// tamperLogged is nil for a tamper stop, which logTamper logged (the
// service keeps serving its probes, which say so); any other error is
// returned as is.
func tamperLogged(err error) error {
	if events.AsTamper(err) != nil {
		return nil
	}
	return err
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
