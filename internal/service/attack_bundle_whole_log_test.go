package service

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/httpapi"
)

// wholeLogRecords is just past the most events one bundle answer holds.
const wholeLogRecords = httpapi.MaxBundleEvents + 1200

// The README's auditor takes "a bundle" of "sequences 1 … the latest
// checkpoint" (tokenledger export --bundle FILE, no range) to another
// machine and proves it complete: issue 13's "done when". A ledger past
// 20,000 records answers that export with 422 (at most 20000 events in
// one bundle), and no bundle of a part can say "complete" (verify
// reports complete only for 1 … the checkpoint's size): past that size no
// auditor can prove completeness offline.
func TestWholeLogBundleOfALedgerPastTheBundleLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("appends more than 20,000 events")
	}
	m, _ := startLedger(t, filepath.Join(t.TempDir(), "data"), 1000)
	ctx := context.Background()
	for i := range wholeLogRecords {
		env, err := events.New(ulid.Make().String(), fmt.Sprintf("p-%d", i), events.ProjectCreated{Name: fmt.Sprint("P ", i)}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		env.Actor = events.System
		if err := env.Seal(); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Store.Append(ctx, commands.Append{Event: env}); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	waitCheckpoint(t, m, httpapi.MaxBundleEvents+2)

	file := filepath.Join(t.TempDir(), "ledger.bundle.json")
	if code, _, errOut := runCLI(t, "export", "--server", m.URL(), "--bundle", file); code != 0 {
		t.Fatalf("tokenledger export --bundle (the README's whole-log bundle): exit %d %s", code, errOut)
	}
	code, out, errOut := runCLI(t, "verify", "--bundle", file, "--key", m.VerifierKey(), "--json")
	var rep map[string]any
	_ = json.Unmarshal([]byte(out), &rep)
	if code != 0 || rep["complete"] != true {
		t.Fatalf("verify --bundle of the whole log: exit %d %s %s", code, out, errOut)
	}
}
