// Command tokenledger is the audit-first ledger of API tokens.
//
//	tokenledger serve [flags]
//
// starts the Unleash-compatible token API with an embedded NATS JetStream
// server keeping its data in ./data. Every flag has a TOKENLEDGER_*
// environment twin; run "tokenledger serve -h" for the list.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "tokenledger:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(os.Stderr, "usage: tokenledger serve [flags]   (tokenledger serve -h for flags)")
		if len(args) == 0 {
			return errors.New("no command given")
		}
		return nil
	}
	switch args[0] {
	case "serve":
		cfg, err := ParseConfig(args[1:], os.Getenv)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
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
	default:
		return fmt.Errorf("unknown command %q (try: tokenledger serve)", args[0])
	}
}
