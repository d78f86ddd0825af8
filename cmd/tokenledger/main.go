// Command tokenledger is the audit-first ledger of API tokens.
//
//	tokenledger serve [flags]
//
// starts the Unleash-compatible token API with an embedded NATS JetStream
// server keeping its data in ./data. Every flag has a TOKENLEDGER_*
// environment twin; run "tokenledger serve -h" for the list.
//
//	tokenledger token create|list|get|lookup|revoke|expiry
//	tokenledger version
//
// talk to a running ledger (TOKENLEDGER_ADDR, TOKENLEDGER_TOKEN); see
// "tokenledger --help".
package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/signal"
	"syscall"

	"github.com/tokenledger/tokenledger/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.Env{Serve: serve})
	stop()
	os.Exit(code)
}

// serve is "tokenledger serve": it runs until ctx is cancelled (SIGINT,
// SIGTERM) and then shuts down cleanly.
func serve(ctx context.Context, args []string) error {
	cfg, err := ParseConfig(args, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	m := NewMain(cfg)
	if err := m.Run(ctx); err != nil {
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
