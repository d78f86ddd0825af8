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
// "tokenledger --help". The service itself is assembled in
// internal/service.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.Env{Serve: serve})
	stop()
	os.Exit(code)
}

// serve is "tokenledger serve" with the process's environment.
func serve(ctx context.Context, args []string) error { return service.Serve(ctx, args, os.Getenv) }
