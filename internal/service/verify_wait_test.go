package service

import (
	"bytes"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// An auditor runs "verify --server" and "export --bundle" against a ledger
// that has just started from its snapshot: the audit routes answer 503
// with Retry-After until the whole-log check of the restored history
// ends, and the CLI waits that out (saying so) and verifies. Once the
// check found tampering, the projections stopped for good: every route
// answers 503 without Retry-After, and the CLI reports it at once rather
// than retrying for minutes.
func TestAuditorCLIWaitsOutTheWholeLogCheckButNotATamperedLedger(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tampered bool
	}{
		{"genuine ledger, check pending", false},
		{"ledger stopped on a tampered record", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := stoppedLedger(t)
			if tc.tampered {
				path, index, recs := readBlock(t, dir)
				i := seqOfType(t, recs, events.TypeTokenRevoked, 2)
				recs[i].msg = bytes.Replace(recs[i].msg, []byte(`"reason":"`), []byte(`"reason":"XATTACKER`), 1)
				writeBlock(t, dir, path, index, recs, true)
			}
			m, _, release := startChecked(t, dir, true, true)
			routes := []string{"/api/ledger/bundle?from_seq=1&to_seq=1", "/api/ledger/checkpoint"}
			if tc.tampered {
				release()
				tamperStopOf(t, m)
			} else {
				routes = routes[:1] // the checkpoint is not an audit-trail read
			}
			for _, p := range routes {
				st, retry := statusAndRetryAfter(t, m, p)
				if st != http.StatusServiceUnavailable || (retry != "") == tc.tampered {
					t.Fatalf("GET %s: %d, Retry-After %q; want 503 with Retry-After while the check is pending, without one once the ledger stopped",
						p, st, retry)
				}
			}

			runs := [][]string{
				{"verify", "--server", m.URL(), "--key", m.VerifierKey()},
				{"export", "--server", m.URL(), "--bundle", filepath.Join(t.TempDir(), "ledger.bundle.json")},
			}
			type outcome struct {
				code   int
				stderr string
			}
			got := make([]outcome, len(runs))
			var wg sync.WaitGroup
			for i, args := range runs {
				wg.Go(func() {
					code, _, errOut := runCLI(t, args...)
					got[i] = outcome{code, errOut}
				})
			}
			if !tc.tampered {
				time.Sleep(1500 * time.Millisecond) // the CLI meets the pending check
				release()
			}
			wg.Wait()
			for i, o := range got {
				waited := strings.Contains(o.stderr, "retrying")
				switch {
				case !tc.tampered && (o.code != 0 || !waited):
					t.Errorf("tokenledger %s: exit %d, stderr %q; want it to wait out the whole-log check (saying so) and succeed",
						runs[i][0], o.code, o.stderr)
				case tc.tampered && (o.code == 0 || waited || !strings.Contains(o.stderr, "stopped")):
					t.Errorf("tokenledger %s on a stopped ledger: exit %d, stderr %q; want a failure at once naming the stop",
						runs[i][0], o.code, o.stderr)
				}
			}
		})
	}
}

// statusAndRetryAfter is the status and Retry-After of GET path (admin
// credential).
func statusAndRetryAfter(t *testing.T, m *Main, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", m.URL()+path, nil)
	req.Header.Set("Authorization", testAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After")
}
