package cli_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/cli"
)

// export --from-seq past --to-seq is a mistake of the command line: a
// usage error (exit 2) said before any request, not a server's fault
// ("the server's bundles do not reach sequence M").
func TestAttackR28ExportFromPastToIsAUsageError(t *testing.T) {
	var requests atomic.Int64
	srv := startLoopbackServer(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.NotFound(w, r)
	}))
	out := filepath.Join(t.TempDir(), "b.json")
	code, _, errOut := runCLIFor(t, 10*time.Second, srv, "*:*.x-0123456789abcdef0123456789", "export", "--server", srv, "--bundle", out, "--from-seq", "10", "--to-seq", "5")
	if code != cli.ExitUsage || requests.Load() != 0 || strings.Contains(errOut, "server") {
		t.Errorf("export --from-seq 10 --to-seq 5: exit %d, %d requests, stderr %q; want a usage error before any request", code, requests.Load(), errOut)
	}
}
