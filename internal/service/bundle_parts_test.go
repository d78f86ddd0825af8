package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/integrity"
)

// exportPart runs "tokenledger export --bundle" for from..to (since > 0:
// with the consistency proof from that size) and returns the file and
// its bundle.
func exportPart(t *testing.T, m *Main, from, to uint64, since int64) (string, *integrity.Bundle) {
	t.Helper()
	file := filepath.Join(t.TempDir(), fmt.Sprintf("part-%d-%d.json", from, to))
	args := []string{"export", "--server", m.URL(), "--bundle", file, "--from-seq", fmt.Sprint(from), "--to-seq", fmt.Sprint(to)}
	if since > 0 {
		args = append(args, "--since", fmt.Sprint(since))
	}
	if code, _, errOut := runCLI(t, args...); code != 0 {
		t.Fatalf("export %d..%d: exit %d %s", from, to, code, errOut)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b, err := integrity.ReadBundle(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return file, b
}

// Bundle parts of one range, given as several --bundle files or as one
// file holding them one after another, are proven together: complete
// when they run from 1 to the first part's signed size without a gap,
// each later part under that tree (its consistency proof). A missing
// part, parts out of order and an edited record in a later part are
// tampering, named with the sequence.
func TestBundlePartsAreProvenTogether(t *testing.T) {
	m, _ := startLedger(t, filepath.Join(t.TempDir(), "data"), 4, func(c *Config) { c.CheckpointInterval = 20 * time.Millisecond })
	tokenLife(t, m, "a")
	tokenLife(t, m, "b")
	last, _ := m.Store.LastSequence(context.Background())
	waitCheckpoint(t, m, int64(last))
	vkey := m.VerifierKey()

	_, n, _, _ := m.checkpoints.Latest()
	const k = 5
	p1, b1 := exportPart(t, m, 1, k, 0)
	cp, err := integrity.OpenCheckpoint([]byte(b1.Checkpoint), mustVerifiers(t, vkey))
	if err != nil || cp.Size < n {
		t.Fatalf("first part's checkpoint: %v (size %d, want ≥ %d)", err, cp.Size, n)
	}
	size := uint64(cp.Size)
	// The export of the first part is an audit read: the stream grows and
	// is checkpointed again, so the later parts are served under a newer
	// checkpoint and prove the first one's tree a prefix of it. (The
	// newest the ledger serves: the first part's may be its tree head
	// with the export's own audit record, so no stream checkpoint event
	// need pass cp.Size+1 until later events.)
	for i := 0; ; i++ {
		if _, newest, _, _ := m.checkpoints.Latest(); newest > cp.Size {
			break
		}
		if i == 400 {
			t.Fatalf("no checkpoint newer than the first part's (%d)", cp.Size)
		}
		time.Sleep(25 * time.Millisecond)
	}
	p2, _ := exportPart(t, m, k+1, k+1, cp.Size)
	p3, _ := exportPart(t, m, k+2, size, cp.Size)
	p3only, b3 := exportPart(t, m, k+2, size, cp.Size)

	joined := filepath.Join(t.TempDir(), "joined.json")
	var all []byte
	for _, f := range []string{p1, p2, p3} {
		raw, _ := os.ReadFile(f)
		all = append(all, raw...)
	}
	if err := os.WriteFile(joined, all, 0o644); err != nil {
		t.Fatal(err)
	}
	b3.Events[0].Data = bytes.Replace(b3.Events[0].Data, []byte(`"v":1`), []byte(`"v":2`), 1)
	edited, _ := integrity.MarshalBundle(b3)
	p3edited := filepath.Join(t.TempDir(), "edited.json")
	if err := os.WriteFile(p3edited, edited, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name     string
		files    []string
		intact   bool
		complete bool
		kind     string
		seq      uint64
	}{
		{"three files in order", []string{p1, p2, p3}, true, true, "", 0},
		{"one file of three parts", []string{joined}, true, true, "", 0},
		{"the first two: intact, not complete", []string{p1, p2}, true, false, "", 0},
		{"a part missing", []string{p1, p3only}, false, false, "deletion", k + 1},
		{"parts out of order", []string{p2, p1, p3}, false, false, "reorder", 1},
		{"a record edited in a later part", []string{p1, p2, p3edited}, false, false, "byte-edit", k + 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"verify", "--key", vkey, "--json"}
			for _, f := range tc.files {
				args = append(args, "--bundle", f)
			}
			code, out, errOut := runCLI(t, args...)
			var rep map[string]any
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("verify: exit %d, no report: %q %q", code, out, errOut)
			}
			if tc.intact {
				if code != cli.ExitOK || rep["intact"] != true || (rep["complete"] == true) != tc.complete {
					t.Fatalf("verify: exit %d %s %s, want intact, complete %v", code, out, errOut, tc.complete)
				}
				if tc.complete && rep["records"] != float64(size) {
					t.Errorf("records %v, want %d", rep["records"], size)
				}
				return
			}
			if code != cli.ExitTampered || rep["kind"] != tc.kind || rep["seq"] != float64(tc.seq) {
				t.Fatalf("verify: exit %d %s %s, want exit %d, %s at %d", code, out, errOut, cli.ExitTampered, tc.kind, tc.seq)
			}
			if tc.kind == "byte-edit" && !strings.Contains(fmt.Sprint(rep["detail"]), "part 3") {
				t.Errorf("the finding %q does not name the part", rep["detail"])
			}
		})
	}
}

func mustVerifiers(t *testing.T, vkey string) note.Verifiers {
	t.Helper()
	keys, err := integrity.Verifiers(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
