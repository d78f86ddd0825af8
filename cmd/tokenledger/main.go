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
//	tokenledger bench [flags]
//
// talk to a running ledger (TOKENLEDGER_ADDR, TOKENLEDGER_TOKEN); see
// "tokenledger --help". The service itself is assembled in
// internal/service.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/tokenledger/tokenledger/internal/bench"
	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.Env{Serve: serve, Bench: benchmark, ReadDataDir: readDataDir})
	stop()
	os.Exit(code)
}

// defaultGCPercent is the Go garbage collector's target of "tokenledger
// serve" when GOGC is not set: the heap may grow to 1.5 times what is live
// between collections instead of twice. The ledger's live heap is small
// and mostly long-lived (the token set, NATS's indexes), so the extra
// collections cost little CPU; they keep the resident memory near what
// the tokens need. GOGC (and GOMEMLIMIT, for a container's limit) still
// rule when set.
const defaultGCPercent = 50

// catchUpGCPercent is the collector's target while the start replays the
// stream into the projections, before defaultGCPercent takes over. The
// replay allocates ~3 KB an event, most of it nats.go's copy of each
// message and its decoded headers, while the live heap grows with every
// token: at 50 the collections took a fifth more CPU and the replay of a
// million events ran at 0.72–0.85 of its rate at 100 (BenchmarkReplaySignatureChecks,
// docs/decisions.md). The heap's peak during the start is 2 rather than
// 1.5 times what is live; the freed pages go back to the system after.
// The replay itself runs higher still where a memory limit bounds the heap
// (internal/catchupgc, through the Runner's DuringCatchUp), and comes back
// to this when it ends.
const catchUpGCPercent = 100

// serve is "tokenledger serve" with the process's environment.
func serve(ctx context.Context, args []string) error {
	if os.Getenv("GOGC") != "" {
		return service.Serve(ctx, args, os.Getenv)
	}
	debug.SetGCPercent(catchUpGCPercent)
	return service.Serve(ctx, args, os.Getenv, func() { debug.SetGCPercent(defaultGCPercent) })
}

// benchmark is "tokenledger bench": it spawns this executable's serve.
func benchmark(ctx context.Context, args []string) error {
	return bench.Run(ctx, args, bench.Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
}

// readDataDir is "tokenledger verify --data-dir": the stream of a stopped
// ledger's data dir, read from a copy.
func readDataDir(ctx context.Context, dir string, setup func(cli.DataDir) error, fn func(uint64, []byte) error) (cli.DataDir, error) {
	conv := func(r service.StoredRecords) cli.DataDir {
		return cli.DataDir{LastSeq: r.LastSeq, KeyFile: r.KeyFile, KeptFile: r.KeptFile}
	}
	r, err := service.ReadDataDir(ctx, dir, func(r service.StoredRecords) error { return setup(conv(r)) }, fn)
	return conv(r), err
}
