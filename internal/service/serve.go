// Package service assembles tokenledger: the embedded (or external) NATS
// server, the JetStream store, the projections following the stream, the
// commands, the expiry scheduler and the HTTP API.
//
// [Serve] is "tokenledger serve". Tests drive the same assembly the way
// Serve does: [NewMain] with a [Config], [Main.Run], [Main.Close]; the
// clock is [Config.Now], the addresses are [Main.URL] and [Main.NATSURL].
package service

import (
	"context"
	"errors"
	"flag"
)

// Serve is "tokenledger serve": it parses args (each flag with a
// TOKENLEDGER_* twin read through getenv), runs the service until ctx is
// cancelled (SIGINT, SIGTERM) and then shuts it down cleanly. Each of
// caughtUp is called once the start is over: before the service logs
// that it serves (the projections caught up with the stream), or when
// the start stopped at tampering (the probes still answer) or failed.
func Serve(ctx context.Context, args []string, getenv func(string) string, caughtUp ...func()) error {
	cfg, err := ParseConfig(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	m := NewMain(cfg)
	// The process's own setting: tests run many Mains in one process.
	limit, source := applyMemoryLimit(cfg)
	m.log.Info("memory limit", "bytes", limit, "source", source)
	m.caughtUp = caughtUp
	err = m.Run(ctx)
	m.startOver() // a start ended at tampering or by an error
	if err != nil {
		_ = m.Close()
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			m.log.Info("shutting down during start-up", "err", err)
			return nil // stopped by SIGTERM/SIGINT, as asked
		}
		return err
	}
	<-ctx.Done()
	m.log.Info("shutting down")
	return m.Close()
}
