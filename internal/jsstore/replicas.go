package jsstore

import (
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"
)

// GuardReplicas makes the store refuse appends while its stream has fewer
// than minReplicas replicas, as the start-up durability guard refuses
// such a stream: someone with the ledger's credentials can cut a running
// ledger's stream to one replica on a cluster, and losing that server
// then loses acknowledged events. The store re-reads the stream at once
// (and at every update advisory and recheck); the refusal clears when the
// replicas are restored. minReplicas ≤ 1 turns the guard off (the
// default: a lone server, or a one-replica stream run with
// --allow-unsafe-durability).
func (s *Store) GuardReplicas(minReplicas int) {
	s.mu.Lock()
	s.minReplicas = minReplicas
	s.gen++
	s.updateHint = true
	s.mu.Unlock()
	s.poke()
}

// replicaProblem is why sc has too few replicas for the guard, or nil.
func (s *Store) replicaProblem(sc jetstream.StreamConfig) error {
	s.mu.Lock()
	want := s.minReplicas
	s.mu.Unlock()
	if want <= 1 || sc.Replicas >= want {
		return nil
	}
	return fmt.Errorf("jsstore: stream %s was changed to %d replica(s), fewer than %d: losing one server would lose acknowledged events (restore them: nats stream edit %s --replicas 3)",
		s.name, sc.Replicas, want, s.name)
}

// setViolation records the fail-closed reason found by a re-read (nil:
// fit again) and logs each change, so that an operator sees why the ledger
// stopped accepting writes and when it resumed. The caller holds s.mu.
func (s *Store) setViolation(err error) {
	switch {
	case err != nil && (s.violation == nil || s.violation.Error() != err.Error()):
		s.logf(slog.LevelError, "the ledger stream is no longer fit: refusing writes until it is fixed", "stream", s.name, "err", err)
	case err == nil && s.violation != nil:
		s.logf(slog.LevelWarn, "the ledger stream is fit again: accepting writes", "stream", s.name, "was", s.violation)
	}
	s.violation = err
}
