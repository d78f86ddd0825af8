package service

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/httpapi"
	"github.com/tokenledger/tokenledger/internal/jsstore"
)

// observedStore is the store as the command path sees it: every append is
// timed and its error classified for the metrics, without the commands
// knowing about Prometheus. Load and LastSequenceOn are the store's own.
type observedStore struct {
	*jsstore.Store
	observe func(took time.Duration, err error)
	// halted, when it returns an error, refuses every append: the
	// projections stopped at a tampered record, and nothing the ledger
	// decides on its frozen read model may be signed on top of it.
	halted func() error
	// check, when set, checks the records Load reads while the start's
	// whole-log check has not reached them (see checkedStore).
	check *wholeLogCheck
}

var (
	_ commands.EventStore      = observedStore{}
	_ commands.FilterSequencer = observedStore{}
)

// Append implements [commands.EventStore].
func (o observedStore) Append(ctx context.Context, batch ...commands.Append) (commands.Stored, error) {
	if o.halted != nil {
		if err := o.halted(); err != nil {
			return commands.Stored{}, fmt.Errorf("%w: %w", commands.ErrUnavailable, err)
		}
	}
	start := time.Now()
	stored, err := o.Store.Append(ctx, batch...)
	o.observe(time.Since(start), err)
	return stored, err
}

// telemetry is what the metrics read outside the HTTP server: the build,
// the time of a stored event (for the stream lag in seconds) and the NATS
// connection's state.
func (m *Main) telemetry(ctx context.Context) (httpapi.Telemetry, error) {
	b := cli.ReadBuildInfo()
	t := httpapi.Telemetry{
		Build: httpapi.BuildInfo{Version: b.Version, Commit: b.Commit, GoVersion: b.GoVersion},
		NATS: func() (string, uint64) {
			return natsState(m.nc.Status()), m.nc.Stats().Reconnects
		},
	}
	js, err := jetstream.New(m.nc)
	if err != nil {
		return t, fmt.Errorf("metrics: %w", err)
	}
	stream, err := js.Stream(ctx, jsstore.DefaultStream)
	if err != nil {
		return t, fmt.Errorf("metrics: stream %s: %w", jsstore.DefaultStream, err)
	}
	t.EventTime = func(ctx context.Context, seq uint64) (time.Time, error) {
		msg, err := stream.GetMsg(ctx, seq) // a Direct Get: the stream allows it
		if err != nil {
			return time.Time{}, err
		}
		return msg.Time, nil
	}
	return t, nil
}

// natsState folds a connection status into httpapi.NATSStates.
func natsState(s nats.Status) string {
	switch s {
	case nats.CONNECTED:
		return "connected"
	case nats.CONNECTING:
		return "connecting"
	case nats.RECONNECTING:
		return "reconnecting"
	case nats.DRAINING_SUBS, nats.DRAINING_PUBS:
		return "draining"
	case nats.CLOSED:
		return "closed"
	}
	return "disconnected"
}
