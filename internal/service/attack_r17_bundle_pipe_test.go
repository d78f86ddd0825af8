package service

import (
	"fmt"
	"os"
	"testing"

	"github.com/tokenledger/tokenledger/internal/cli"
)

// verify opens its inputs without blocking (a named pipe without a writer
// must not hang it), but a pipe with a writer, as a shell's process
// substitution gives one (verify --bundle <(zcat ledger.bundle.json.gz)),
// is still read as it comes: the bundle and the kept checkpoint both.
func TestVerifyReadsABundleAndACheckpointFromPipes(t *testing.T) {
	_, file, b, vkey := r17Bundle(t)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pipe := func(data []byte) string {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		go func() {
			_, _ = w.Write(data)
			_ = w.Close()
		}()
		return fmt.Sprintf("/proc/self/fd/%d", r.Fd())
	}
	code, out, errOut := runCLI(t, "verify", "--bundle", pipe(raw), "--key", vkey, "--since-checkpoint", pipe([]byte(b.Checkpoint)))
	if code != cli.ExitOK {
		t.Fatalf("verify of a bundle and a checkpoint read from pipes: exit %d %s %s", code, out, errOut)
	}
}
