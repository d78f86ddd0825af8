package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/tokenledger/tokenledger/internal/service"
)

// serveArg, as the first argument, makes this executable the ledger that
// --spawn measures: "tokenledger serve" with the arguments after it.
const serveArg = "__serve-ledger"

// cpuProfileEnv, set in the spawned ledger's environment, names the file
// it writes its CPU profile to (--ledger-cpu-profile).
const cpuProfileEnv = "TOKENLEDGER_PROPAGATION_CPU_PROFILE"

// spawnAdmin is the spawned ledger's admin secret (a throw-away ledger on
// loopback, removed after the run).
const spawnAdmin = "*:*.propagation-0123456789abcdef0123456789abcdef"

// serveLedger is "tokenledger serve" in this process, as cmd/tokenledger
// runs it (GOGC=50 unless set).
func serveLedger(ctx context.Context, args []string) error {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	if file := os.Getenv(cpuProfileEnv); file != "" {
		f, err := os.Create(file)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	return service.Serve(ctx, args, os.Getenv)
}

// spawned is a ledger this command started in a child process on a fresh
// data dir.
type spawned struct {
	cmd  *exec.Cmd
	dir  string
	done chan error
}

// spawnLedger starts this executable as a ledger (production fsync, no
// mutation rate limit, one nkey reader) on free loopback ports and waits
// until it is ready; it fills in o's server, NATS URL, seed and token.
func spawnLedger(ctx context.Context, o *options) (*spawned, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("spawn: %w", err)
	}
	dir, err := os.MkdirTemp("", "tokenledger-propagation-")
	if err != nil {
		return nil, fmt.Errorf("spawn: %w", err)
	}
	s := &spawned{dir: dir, done: make(chan error, 1)}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, s.fail(err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, s.fail(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, s.fail(err)
	}
	o.seed = filepath.Join(dir, "reader.seed")
	if err := os.WriteFile(o.seed, seed, 0o600); err != nil {
		return nil, s.fail(err)
	}
	httpAddr, err := freePort()
	if err != nil {
		return nil, s.fail(err)
	}
	natsAddr, err := freePort()
	if err != nil {
		return nil, s.fail(err)
	}
	s.cmd = exec.Command(exe, serveArg, "--data-dir", filepath.Join(dir, "data"), "--listen", httpAddr,
		"--nats-listen", natsAddr, "--nats-readers", pub, "--log-level", "error")
	s.cmd.Env = append(os.Environ(), "TOKENLEDGER_MUTATION_RATE=0", "INIT_ADMIN_API_TOKENS="+spawnAdmin)
	if o.cpuProfile != "" {
		s.cmd.Env = append(s.cmd.Env, cpuProfileEnv+"="+o.cpuProfile)
	}
	s.cmd.Stderr = os.Stderr
	if err := s.cmd.Start(); err != nil {
		return nil, s.fail(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	o.server, o.natsURL, o.token = "http://"+httpAddr, "nats://"+natsAddr, spawnAdmin
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(time.Minute)
	for {
		if resp, err := hc.Get(o.server + "/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			return nil, s.fail(fmt.Errorf("the ledger stopped before it was ready: %v", err))
		case <-ctx.Done():
			return nil, s.fail(ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, s.fail(errors.New("the ledger was not ready within a minute"))
		}
	}
}

// fail stops s and returns err wrapped.
func (s *spawned) fail(err error) error {
	_ = s.stop()
	return fmt.Errorf("spawn a ledger: %w", err)
}

// stop stops the ledger (SIGTERM, then SIGKILL after 30 s) and removes its
// data dir.
func (s *spawned) stop() error {
	defer os.RemoveAll(s.dir)
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			return err
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		return errors.New("spawned ledger did not stop within 30 s: killed")
	}
}

// freePort is a loopback address whose port was free a moment ago.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// loadavg is the first three fields of /proc/loadavg ("" elsewhere).
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// cpuSeconds is the CPU time (user and system) process pid used so far,
// in seconds, from /proc (0 where unknown).
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The fields after the command name (which may hold spaces): utime
	// and stime are the 12th and 13th, in clock ticks of 1/100 s.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100
}
