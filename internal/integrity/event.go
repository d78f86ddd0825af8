package integrity

import (
	"encoding/base64"
	"fmt"
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// CheckpointEvent returns the sealed log.checkpoint event recording the
// signed checkpoint note signed (of cp), with event id id, time at, and
// prev the hash of the previous checkpoint event ("" for the first). The
// actor is the ledger itself.
func CheckpointEvent(id string, at time.Time, cp Checkpoint, signed []byte, prev string) (events.Envelope, error) {
	env, err := events.New(id, events.CheckpointAggregate, events.Checkpoint{
		Size: cp.Size,
		Root: base64.StdEncoding.EncodeToString(cp.Root[:]),
		Note: string(signed),
	}, at)
	if err != nil {
		return events.Envelope{}, fmt.Errorf("integrity: checkpoint event: %w", err)
	}
	env.Actor = events.System
	env.Via = events.Via{CredentialType: "internal", RequestID: "checkpoint"}
	env.Prev = prev
	if err := env.Seal(); err != nil {
		return events.Envelope{}, fmt.Errorf("integrity: checkpoint event: %w", err)
	}
	return env, nil
}
