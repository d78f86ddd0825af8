package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tokenledger/tokenledger/internal/cli"
)

// runVerifyBounded runs the command line in-process and waits at most
// 5 s for it; unblock is called if it has not returned by then (to end a
// read it is blocked in), and the run is reported as hung.
func runVerifyBounded(t *testing.T, unblock func(), args ...string) (code int, out string, hung bool) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- cli.Run(ctx, args, cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }})
	}()
	select {
	case code = <-done:
	case <-time.After(5 * time.Second):
		hung = true
		unblock()
		select {
		case code = <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("verify still blocked after its input was unblocked")
		}
	}
	return code, stdout.String() + stderr.String(), hung
}

// An auditor runs verify on files handed over with the bundle (a kept
// checkpoint, a key file) or on the bundle itself. A name that is a
// named pipe with no writer (a tar archive can hold one) hung verify in
// its open for ever; a checkpoint or key file that never ends (a link to
// /dev/zero, a process substitution of an endless stream) or is huge was
// read whole into memory before its 8 KiB bound was checked. verify must
// answer at once, allocating little, and never say intact.
func TestVerifyReadsItsInputFilesBoundedAndWithoutBlocking(t *testing.T) {
	_, vkey, err := note.GenerateKey(nil, "tokenledger")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bundle := filepath.Join(dir, "ledger.bundle.json")
	if err := os.WriteFile(bundle, []byte(`{"format":"tokenledger-bundle/1"}`), 0o644); err != nil {
		t.Fatal(err)
	}

	fifo := func(t *testing.T) (string, func()) {
		p := filepath.Join(t.TempDir(), "fifo")
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		return p, func() {
			// A writer opening the pipe releases a reader blocked in open;
			// closing it gives that reader the end of the file.
			if w, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				_ = w.Close()
			}
		}
	}
	// endless is a pipe, as <(cat /dev/zero) gives one, that yields 64 MiB
	// of zero bytes and then ends: reading it whole costs 64 MiB.
	endless := func(t *testing.T) (string, func()) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			zeros := make([]byte, 1<<20)
			for range 64 {
				if _, err := w.Write(zeros); err != nil {
					break
				}
			}
			_ = w.Close()
		}()
		t.Cleanup(func() { _ = r.Close() })
		return fmt.Sprintf("/proc/self/fd/%d", r.Fd()), func() { _ = r.Close() }
	}
	// huge is a sparse regular file of 128 MiB.
	huge := func(t *testing.T) (string, func()) {
		p := filepath.Join(t.TempDir(), "huge")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(128 << 20); err != nil {
			t.Fatal(err)
		}
		_ = f.Close()
		return p, func() {}
	}

	for _, tc := range []struct {
		name  string
		input func(*testing.T) (string, func())
		args  func(in string) []string
	}{
		{"--since-checkpoint a named pipe without a writer", fifo, func(in string) []string {
			return []string{"verify", "--bundle", bundle, "--key", vkey, "--since-checkpoint", in}
		}},
		{"--key @ a named pipe without a writer", fifo, func(in string) []string {
			return []string{"verify", "--bundle", bundle, "--key", "@" + in}
		}},
		{"--bundle a named pipe without a writer", fifo, func(in string) []string {
			return []string{"verify", "--bundle", in, "--key", vkey}
		}},
		{"--since-checkpoint an endless stream", endless, func(in string) []string {
			return []string{"verify", "--bundle", bundle, "--key", vkey, "--since-checkpoint", in}
		}},
		{"--key @ an endless stream", endless, func(in string) []string {
			return []string{"verify", "--bundle", bundle, "--key", "@" + in}
		}},
		{"--since-checkpoint a file of 128 MiB", huge, func(in string) []string {
			return []string{"verify", "--bundle", bundle, "--key", vkey, "--since-checkpoint", in}
		}},
		{"--key @ a file of 128 MiB", huge, func(in string) []string {
			return []string{"verify", "--bundle", bundle, "--key", "@" + in}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, unblock := tc.input(t)
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			code, out, hung := runVerifyBounded(t, unblock, tc.args(in)...)
			runtime.ReadMemStats(&after)
			if hung {
				t.Errorf("verify blocked for 5 s on its input (then exit %d: %s)", code, strings.TrimSpace(out))
			}
			if code == cli.ExitOK {
				t.Errorf("verify: exit 0 on an input that is no checkpoint, key or bundle: %s", out)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
				t.Errorf("verify allocated %d MB for its input (exit %d: %s)", alloc>>20, code, strings.TrimSpace(out))
			}
		})
	}
}
