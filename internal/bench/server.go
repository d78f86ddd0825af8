package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// spawned is a "tokenledger serve" process the tool started on loopback.
type spawned struct {
	cmd     *exec.Cmd
	url     string
	done    chan struct{} // closed when the process exited
	waitErr error
	logs    *tailBuffer
}

// serverSpec is how to start the server: the executable, the environment
// to add, its data dir and admin secret.
type serverSpec struct {
	exe     string
	env     []string // added to the tool's environment (without TOKENLEDGER_*)
	dataDir string
	admin   string
	args    []string // more serve flags (--serve-args)
}

// adminSecret is a fresh bootstrap admin secret: "*:*." and 48 random hex
// characters (strong enough for the server to accept it).
func adminSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("bench: admin secret: %w", err)
	}
	return "*:*." + hex.EncodeToString(b), nil
}

// freePort is a port free on 127.0.0.1 a moment ago (the server binds it
// again; a collision in between makes the start fail and is retried).
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("bench: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startTimes is how long a start took: to /health 200 and to /ready 200.
type startTimes struct{ health, ready time.Duration }

// start spawns the server and waits until /ready answers 200. It tries
// again with other ports if the first ones were taken meanwhile.
func (sp serverSpec) start(ctx context.Context, hc *http.Client, limit time.Duration) (*spawned, startTimes, error) {
	var lastErr error
	for range 3 {
		s, t, err := sp.startOnce(ctx, hc, limit)
		if err == nil {
			return s, t, nil
		}
		lastErr = err
		if ctx.Err() != nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, startTimes{}, lastErr
}

func (sp serverSpec) startOnce(ctx context.Context, hc *http.Client, limit time.Duration) (*spawned, startTimes, error) {
	httpPort, err := freePort()
	if err != nil {
		return nil, startTimes{}, err
	}
	natsPort, err := freePort()
	if err != nil {
		return nil, startTimes{}, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", httpPort)
	args := append([]string{"serve", "--data-dir", sp.dataDir, "--listen", addr,
		"--nats-listen", fmt.Sprintf("127.0.0.1:%d", natsPort), "--log-level", "warn"}, sp.args...)
	cmd := exec.Command(sp.exe, args...)
	// The server's own settings come from flags and these, never from the
	// tool's environment (a TOKENLEDGER_DATA_DIR there must not point the
	// server at a real ledger).
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TOKENLEDGER_") && !strings.HasPrefix(kv, "INIT_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(append(env, sp.env...),
		"INIT_ADMIN_API_TOKENS="+sp.admin,
		"TOKENLEDGER_MUTATION_RATE=0", // creates and deletes at full speed
		"TOKENLEDGER_UNAUTH_RATE=0",   // revoked tokens at /edge/validate are misses
		"TOKENLEDGER_MAX_CONNECTIONS=0",
	)
	logs := &tailBuffer{max: 8 << 10}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the tool
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, startTimes{}, fmt.Errorf("bench: start %s serve: %w", sp.exe, err)
	}
	s := &spawned{cmd: cmd, url: "http://" + addr, done: make(chan struct{}), logs: logs}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	var times startTimes
	deadline := time.Now().Add(limit)
	for _, probe := range []struct {
		path string
		took *time.Duration
	}{{"/health", &times.health}, {"/ready", &times.ready}} {
		for {
			if ok := s.get(ctx, hc, probe.path); ok {
				*probe.took = time.Since(t0)
				break
			}
			select {
			case <-s.done:
				return nil, startTimes{}, fmt.Errorf("bench: the server exited during start-up (%v): %s", s.waitErr, logs.String())
			case <-ctx.Done():
				s.stop()
				return nil, startTimes{}, ctx.Err()
			case <-time.After(2 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				s.stop()
				return nil, startTimes{}, fmt.Errorf("bench: %s not 200 after %s: %s", probe.path, limit, logs.String())
			}
		}
	}
	return s, times, nil
}

// get reports whether GET path answered 200.
func (s *spawned) get(ctx context.Context, hc *http.Client, path string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+path, nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// stop asks the server to shut down (SIGTERM) and waits, killing it if it
// has not exited within a minute.
func (s *spawned) stop() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(time.Minute):
		_ = s.cmd.Process.Kill()
		<-s.done
		return errors.New("bench: the server did not stop within a minute of SIGTERM; killed")
	}
	var ee *exec.ExitError
	if s.waitErr != nil && !errors.As(s.waitErr, &ee) {
		return fmt.Errorf("bench: server: %w", s.waitErr)
	}
	return nil
}

// rss is the server process's resident set (VmRSS) in bytes.
func (s *spawned) rss() (int64, error) {
	return procStatus(s.cmd.Process.Pid, "VmRSS")
}

// cpuSeconds is the CPU time, user and system, the server process used
// so far (/proc/<pid>/stat, in clock ticks of 1/100 s).
func (s *spawned) cpuSeconds() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("bench: read process stat: %w", err)
	}
	// The fields after the command's name, which is in parentheses and
	// may hold spaces: state is the first, utime the 12th, stime the 13th.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: process stat: unexpected %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: process stat: unexpected %q", b)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bench: process stat: unexpected %q", b)
	}
	return float64(utime+stime) / 100, nil
}

// procStatus reads a kB field of /proc/<pid>/status, in bytes.
func procStatus(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("bench: read process status: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		fs := strings.Fields(rest)
		if len(fs) != 2 || fs[1] != "kB" {
			return 0, fmt.Errorf("bench: %s: unexpected %q", field, rest)
		}
		kb, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: %s: %w", field, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("bench: no %s in /proc/%d/status", field, pid)
}

// tailBuffer keeps the last max bytes written to it (the server's log,
// shown when it fails).
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf))
}
