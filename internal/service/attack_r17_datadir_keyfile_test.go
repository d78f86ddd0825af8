package service_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// Without --key, verify --data-dir trusts the signing key file beside the
// data dir, a file whoever can write the dir's parent may replace (as the
// tree head and its leaves, which verify reads only from regular files of
// bounded size). A named pipe there hung verify for ever; a link to an
// endless stream was read into memory until the process died. verify
// must answer at once, allocating little, and never say intact.
func TestVerifyDataDirReadsTheKeyFileBesideItBoundedAndWithoutBlocking(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, keyFile string) (unblock func())
	}{
		{"a named pipe without a writer", func(t *testing.T, keyFile string) func() {
			if err := syscall.Mkfifo(keyFile, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			return func() {
				if w, err := os.OpenFile(keyFile, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					_ = w.Close()
				}
			}
		}},
		{"a link to an endless stream", func(t *testing.T, keyFile string) func() {
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
			if err := os.Symlink(fmt.Sprintf("/proc/self/fd/%d", r.Fd()), keyFile); err != nil {
				t.Fatal(err)
			}
			return func() { _ = r.Close() }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := servicetest.Start(t, "", nil)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			dir := s.Config.DataDir
			keyFile := dir + ".signing-key"
			if err := os.Remove(keyFile); err != nil {
				t.Fatal(err)
			}
			unblock := tc.plant(t, keyFile)

			type result struct {
				code     int
				out, err string
			}
			done := make(chan result, 1)
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			go func() {
				code, out, errOut := verifyDataDirText(t, dir)
				done <- result{code, out, errOut}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(5 * time.Second):
				t.Errorf("verify --data-dir blocked for 5 s on the key file beside the data dir")
				unblock()
				select {
				case r = <-done:
				case <-time.After(10 * time.Second):
					t.Fatal("verify still blocked after the key file was unblocked")
				}
			}
			runtime.ReadMemStats(&after)
			if r.code == cli.ExitOK {
				t.Errorf("verify: exit 0 with no key: %s", r.out)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 48<<20 {
				t.Errorf("verify allocated %d MB (exit %d: %s)", alloc>>20, r.code, strings.TrimSpace(r.out+r.err))
			}
		})
	}
}
