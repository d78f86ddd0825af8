package service

import (
	"errors"
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
	if err := m.Runner.Err(); errors.Is(err, errKeyRotatedElsewhere) {
		return fmt.Errorf("service: %w", err)
	}
	return nil
}

// errKeyRotatedElsewhere stops the projections of a replica whose signing
// key another replica retired (a key.rotated naming it as the previous
// key, applied live): from there on the chain is at a key this replica
// does not hold, so it signs nothing more (no head, no event), which the
// replicas following the chain would refuse as forged.
var errKeyRotatedElsewhere = errors.New("the ledger's signing key was rotated by another replica; restart this one with the new key file (and its key history)")

// refuseOwnKeyRetired wraps the live projections' event check: a
// key.rotated that retires the key this process signs with stops them
// (errKeyRotatedElsewhere) before it is applied. At a start the key file
// holds the chain's current key, which no stored rotation retires.
func refuseOwnKeyRetired(own string, verify func(events.Envelope) error) func(events.Envelope) error {
	return func(env events.Envelope) error {
		if err := verify(env); err != nil {
			return err
		}
		if env.Type != events.TypeKeyRotated {
			return nil
		}
		if p, err := env.Payload(); err == nil {
			if r, ok := p.(events.KeyRotated); ok && r.Previous == own {
				return fmt.Errorf("%w (key.rotated at sequence %d retires key %s)", errKeyRotatedElsewhere, env.Sequence, own)
			}
		}
		return nil
	}
}
