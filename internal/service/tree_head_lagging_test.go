package service

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/httpapi"
)

// A change answered before the signed tree head counts its event (the
// head cannot be written: here its file is in a directory that does not
// exist) says so in the Ledger-Tree-Head header, so that a client can tell
// the event is protected only by its signature and chain; a change the
// head counts carries no such header.
func TestAChangeTheTreeHeadDoesNotCountSaysSo(t *testing.T) {
	for _, tc := range []struct {
		name     string
		head     func(dir string) string // the --tree-head file
		wantFlag string
	}{
		{"head kept", func(string) string { return "" }, ""},
		{"head cannot be written", func(dir string) string { return filepath.Join(dir, "missing", "head.checkpoint") },
			httpapi.TreeHeadLagging},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			m, _ := startLedger(t, filepath.Join(tmp, "data"), 1000, func(c *Config) { c.TreeHead = tc.head(tmp) })
			for i := range 2 {
				req, _ := http.NewRequest("POST", m.URL()+"/api/admin/api-tokens",
					strings.NewReader(`{"tokenName":"t`+string(rune('a'+i))+`","type":"backend","environment":"production","projects":["default"]}`))
				req.Header.Set("Authorization", testAdmin)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					t.Fatalf("create: %d", resp.StatusCode)
				}
				if got := resp.Header.Get(httpapi.TreeHeadHeader); got != tc.wantFlag {
					t.Errorf("create %d: %s: %q, want %q", i, httpapi.TreeHeadHeader, got, tc.wantFlag)
				}
			}
		})
	}
}

// A process killed while it rewrote the head's leaves leaves a temporary
// file beside them (<head>.leaves.tmp-<digits>); the next start removes
// such files, and only those.
func TestTheStartRemovesLeftoverTemporaryLeavesFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	m, _ := startLedger(t, dir, 1000)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	files := []struct {
		name string
		kept bool
	}{
		{".checkpoint.leaves.tmp-123456789", false},
		{".checkpoint.leaves.tmp-42", false},
		{".checkpoint.leaves.tmp-", true},
		{".checkpoint.leaves.tmp-12x", true},
		{".checkpoint.leaves.bak", true},
		{".other.leaves.tmp-1", true},
	}
	for _, tc := range files {
		if err := os.WriteFile(dir+tc.name, []byte("left over"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, _ = startLedger(t, dir, 1000)
	defer m.Close()
	for _, tc := range files {
		_, err := os.Stat(dir + tc.name)
		if kept := err == nil; kept != tc.kept {
			t.Errorf("%s: kept %v, want %v (%v)", tc.name, kept, tc.kept, err)
		}
	}
}
