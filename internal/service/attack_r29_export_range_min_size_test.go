package service_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// atk-r29: an auditor's incremental export of a range (export --bundle
// --since N --to-seq M, or --from-seq with --to-seq) from a replica still
// applying the records of the head they kept from another replica. The
// export with --since alone asks for a checkpoint of at least N records
// (min_size) and the replica waits for them; with --to-seq the CLI asked
// for no checkpoint at all: the bundle route, which does not wait,
// refused the range at once (422, exit 5: "to_seq ≤ the latest
// checkpoint's size"), though the stream holds every record asked for
// and the same export without --to-seq succeeds. The export now asks for
// a checkpoint of at least max(since, to-seq) records first.
func TestAttackR29ExportRangeWithSinceFromAReplicaStillApplyingIt(t *testing.T) {
	for _, tc := range []struct {
		name string
		args func(size int64) []string
	}{
		{"since and to-seq", func(n int64) []string { return []string{"--since", fmt.Sprint(n), "--to-seq", fmt.Sprint(n)} }},
		{"from-seq, to-seq and since", func(n int64) []string {
			return []string{"--from-seq", "2", "--to-seq", fmt.Sprint(n), "--since", fmt.Sprint(n)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := startLaggingReplica(t)
			lb := l.behindProxy(t, false) // b goes on only when asked for min_size (or a proof)
			file := filepath.Join(t.TempDir(), "ledger.bundle.json")
			env := map[string]string{cli.EnvToken: servicetest.AdminSecret}
			run := func(args ...string) (int, string) {
				var stdout, stderr bytes.Buffer
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				code := cli.Run(ctx, args, cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return env[k] }})
				return code, stdout.String() + stderr.String()
			}
			args := append([]string{"export", "--server", lb.URL, "--bundle", file}, tc.args(l.cp.Size)...)
			if code, out := run(args...); code != cli.ExitOK {
				t.Fatalf("%v from the replica still applying them: exit %d\n%s", args[4:], code, out)
			}
			if code, out := run("verify", "--bundle", file, "--key", l.vkey, "--since-checkpoint", l.kept); code != cli.ExitOK {
				t.Errorf("verify --bundle --since-checkpoint (a's head) of b's bundle: exit %d\n%s", code, out)
			}
		})
	}
}
