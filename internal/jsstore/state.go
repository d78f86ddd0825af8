package jsstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/commands"
)

// StreamState is the stream's state as one STREAM.INFO reports it: its
// last sequence and the name of the server leading it ("" on a single
// server, or while no server leads it).
type StreamState struct {
	LastSeq uint64
	Leader  string
	// Bytes is the size of the stream's messages.
	Bytes uint64
}

// State asks the stream's leader for its state: an answer proves the
// stream can be reached and take writes now. It fails with
// [commands.ErrUnavailable] when the cluster cannot answer.
func (s *Store) State(ctx context.Context) (StreamState, error) {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return StreamState{}, fmt.Errorf("jsstore: stream %s info: %w", s.name, unavailable(err))
	}
	st := StreamState{LastSeq: info.State.LastSeq, Bytes: info.State.Bytes}
	if info.Cluster != nil {
		st.Leader = info.Cluster.Leader
	}
	if st.Leader == "" && s.nc.ConnectedClusterName() != "" {
		// A replica answers for a stream that has no leader: it cannot
		// take writes, and its state may be behind.
		return st, fmt.Errorf("jsstore: stream %s has no leader: %w", s.name, commands.ErrUnavailable)
	}
	return st, nil
}

// Connected reports whether the store's NATS connection is up now.
func (s *Store) Connected() bool { return s.nc.Status() == nats.CONNECTED }

// errNotSent is an append attempt not made because the connection was
// down: a request sent then would wait in the client's reconnect buffer
// and might be stored after its caller had given up on it.
var errNotSent = errors.New("jsstore: not connected to NATS: the append was not sent")
