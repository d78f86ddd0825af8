package service

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"golang.org/x/mod/sumdb/note"
)

// crash stops m the way a killed process stops: the projections end
// first, so Close appends no shutdown checkpoint.
func crash(t *testing.T, m *Main) {
	t.Helper()
	m.cancel()
	for deadline := time.Now().Add(10 * time.Second); m.Runner.Err() == nil; {
		if time.Now().After(deadline) {
			t.Fatal("the projections did not stop")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestAcknowledgedWriteIsCoveredByTheSignedTreeHead: when a change's
// answer arrives, the signed tree head beside the data dir already counts
// its event, and it is a checkpoint `verify --since-checkpoint` accepts.
func TestAcknowledgedWriteIsCoveredByTheSignedTreeHead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	m, _ := startLedger(t, dir, 100000)
	keys, err := integrity.Verifiers(m.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		seq, head, err := createAndReadHead(t, m, dir, fmt.Sprintf("t%d", i), keys)
		if err != nil || head.Size < seq {
			t.Fatalf("after the answer for sequence %d the kept head is %+v (%v)", seq, head, err)
		}
	}
	crash(t, m)
	auditor := filepath.Join(t.TempDir(), "head.checkpoint")
	b, _ := os.ReadFile(dir + ".checkpoint")
	if err := os.WriteFile(auditor, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, rep := runVerify(t, "--data-dir", dir, "--since-checkpoint", auditor); code != cli.ExitOK {
		t.Fatalf("verify --since-checkpoint with the kept head: exit %d, %v", code, rep)
	}
	m, _ = startLedger(t, dir, 100000) // an honest crash starts again
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTheTreeHeadNamesTheTamperedTailAfterACrash: after a crash (no
// shutdown checkpoint, the last checkpoint long before), someone with the
// data dir changes the newest records in ways no signature or chain shows;
// the signed tree head kept beside the data dir and its leaves make
// verify name the first changed record and its kind, and the ledger
// refuse to start, naming it too.
func TestTheTreeHeadNamesTheTamperedTailAfterACrash(t *testing.T) {
	tests := []struct {
		name string
		// tamper edits the records; it returns the sequence verify must
		// name (0: none, the stream is intact).
		tamper func(t *testing.T, recs []fsRecord) ([]fsRecord, int)
		kind   integrity.Kind
	}{
		{name: "nothing changed", tamper: func(t *testing.T, recs []fsRecord) ([]fsRecord, int) { return recs, 0 }},
		{name: "the last event of one token removed, the later records renumbered", kind: integrity.KindDeletion,
			tamper: func(t *testing.T, recs []fsRecord) ([]fsRecord, int) {
				i := seqOfType(t, recs, events.TypeTokenRevoked, 2)
				recs = slices.Delete(recs, i, i+1)
				for j := range recs {
					recs[j].seq = uint64(j + 1)
				}
				return recs, i + 1
			}},
		{name: "the last 3 records removed", kind: integrity.KindTruncation,
			tamper: func(t *testing.T, recs []fsRecord) ([]fsRecord, int) {
				return recs[:len(recs)-3], len(recs) - 2
			}},
		{name: "the last record replaced by another encoding of the same event", kind: integrity.KindByteEdit,
			tamper: func(t *testing.T, recs []fsRecord) ([]fsRecord, int) {
				last := &recs[len(recs)-1]
				var v map[string]any
				if err := json.Unmarshal(last.msg, &v); err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				enc := json.NewEncoder(&buf)
				enc.SetIndent("", " ") // the same JSON object: the same canonical bytes, hash and signature
				if err := enc.Encode(v); err != nil {
					t.Fatal(err)
				}
				last.msg = bytes.TrimSpace(buf.Bytes())
				return recs, len(recs)
			}},
		{name: "the last two records, of two tokens, swapped", kind: integrity.KindReorder,
			tamper: func(t *testing.T, recs []fsRecord) ([]fsRecord, int) {
				n := len(recs)
				recs[n-2].msg, recs[n-1].msg = recs[n-1].msg, recs[n-2].msg
				recs[n-2].subj, recs[n-1].subj = recs[n-1].subj, recs[n-2].subj
				recs[n-2].hdr, recs[n-1].hdr = recs[n-1].hdr, recs[n-2].hdr
				return recs, n - 1
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			m, _ := startLedger(t, dir, 100000)
			var a, b struct{ Secret string }
			_ = json.Unmarshal(adminDo(t, m, "POST", "/api/admin/api-tokens", `{"tokenName":"a","type":"backend","environment":"production","projects":["default"]}`), &a)
			_ = json.Unmarshal(adminDo(t, m, "POST", "/api/admin/api-tokens", `{"tokenName":"b","type":"backend","environment":"production","projects":["default"]}`), &b)
			adminDo(t, m, "DELETE", "/api/admin/api-tokens/"+a.Secret, "")
			if err := m.checkpoints.checkpoint(t.Context()); err != nil {
				t.Fatal(err)
			}
			adminDo(t, m, "DELETE", "/api/admin/api-tokens/"+b.Secret, "")
			adminDo(t, m, "POST", "/api/admin/api-tokens", `{"tokenName":"c","type":"backend","environment":"production","projects":["default"]}`)
			crash(t, m)

			path, index, recs := readBlock(t, dir)
			recs, seq := tt.tamper(t, recs)
			writeBlock(t, dir, path, index, recs, true)

			code, rep := runVerify(t, "--data-dir", dir)
			err := startFails(t, dir)
			if seq == 0 {
				if code != cli.ExitOK || err != nil {
					t.Fatalf("an honest crash: verify exit %d (%v), start: %v", code, rep, err)
				}
				return
			}
			if code != cli.ExitTampered || rep["seq"] != float64(seq) || rep["kind"] != string(tt.kind) {
				t.Errorf("verify: exit %d, %v at %v (%v); want %s at %d", code, rep["kind"], rep["seq"], rep["detail"], tt.kind, seq)
			}
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%s at sequence %d", tt.kind, seq)) {
				t.Errorf("start: %v; want it refused naming %s at sequence %d", err, tt.kind, seq)
			}
			// The refused start signed nothing: the evidence is intact.
			if err := startFails(t, dir); err == nil {
				t.Error("a second start accepted the tampered stream")
			}
			if code, again := runVerify(t, "--data-dir", dir); code != cli.ExitTampered || again["seq"] != float64(seq) {
				t.Errorf("verify after the refused starts: exit %d, %v at %v", code, again["kind"], again["seq"])
			}
		})
	}
}

// createAndReadHead creates a backend token named name through m's HTTP
// API, asserts the 201 and its X-Ledger-Sequence, and returns that
// sequence with the tree head kept in dir's .checkpoint right after the
// answer (opened with keys).
func createAndReadHead(t *testing.T, m *Main, dir, name string, keys note.Verifiers) (int64, integrity.Checkpoint, error) {
	t.Helper()
	req, _ := http.NewRequest("POST", m.URL()+"/api/admin/api-tokens",
		strings.NewReader(`{"tokenName":"`+name+`","type":"backend","environment":"production","projects":["default"]}`))
	req.Header.Set("Authorization", testAdmin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	seq, _ := strconv.ParseInt(resp.Header.Get("X-Ledger-Sequence"), 10, 64)
	if resp.StatusCode != http.StatusCreated || seq == 0 {
		t.Fatalf("create: %d, sequence %q", resp.StatusCode, resp.Header.Get("X-Ledger-Sequence"))
	}
	b, err := os.ReadFile(dir + ".checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	head, err := integrity.OpenCheckpoint(b, keys)
	return seq, head, err
}
