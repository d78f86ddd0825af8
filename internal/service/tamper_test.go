package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/highwayhash"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/jsstore"
)

// The attacker of these tests has write access to the data dir while the
// ledger is stopped: they edit NATS's message blocks (and fix their
// checksums, which need no secret), then start the ledger again.

// fsRecord is one record of a NATS file-store message block.
type fsRecord struct {
	seq       uint64
	ts        uint64
	subj      string
	hdr       []byte // nil: no headers
	msg       []byte
	checksum  []byte
	hasHeader bool
}

// msgsDir is the LEDGER stream's message directory in a data dir.
func msgsDir(dir string) string {
	return filepath.Join(dir, "jetstream", jsstore.LedgerAccount, "streams", jsstore.DefaultStream, "msgs")
}

// readBlock reads the stream's only message block.
func readBlock(t *testing.T, dir string) (path string, index uint32, recs []fsRecord) {
	t.Helper()
	blks, _ := filepath.Glob(filepath.Join(msgsDir(dir), "*.blk"))
	if len(blks) != 1 {
		t.Fatalf("want one message block, found %v", blks)
	}
	path = blks[0]
	var ix int
	if _, err := fmt.Sscanf(filepath.Base(path), "%d.blk", &ix); err != nil {
		t.Fatal(err)
	}
	buf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	for i := 0; i < len(buf); {
		rl := le.Uint32(buf[i:])
		r := fsRecord{hasHeader: rl&(1<<31) != 0}
		rl &^= 1 << 31
		rec := buf[i : i+int(rl)]
		r.seq, r.ts = le.Uint64(rec[4:]), le.Uint64(rec[12:])
		slen := int(le.Uint16(rec[20:]))
		rest := rec[22 : len(rec)-8]
		r.subj, rest = string(rest[:slen]), rest[slen:]
		if r.hasHeader {
			hl := int(le.Uint32(rest))
			r.hdr, rest = rest[4:4+hl], rest[4+hl:]
		}
		r.msg = bytes.Clone(rest)
		r.checksum = bytes.Clone(rec[len(rec)-8:])
		recs = append(recs, r)
		i += int(rl)
	}
	return path, uint32(ix), recs
}

// writeBlock writes records as a message block; with fix, each record's
// checksum is computed the way nats-server does (a key anyone can derive).
func writeBlock(t *testing.T, dir, path string, index uint32, recs []fsRecord, fix bool) {
	t.Helper()
	key := sha256.Sum256([]byte(fmt.Sprintf("%s-%d", jsstore.DefaultStream, index)))
	le := binary.LittleEndian
	var out []byte
	for _, r := range recs {
		body := []byte(r.subj)
		if r.hasHeader {
			body = le.AppendUint32(body, uint32(len(r.hdr)))
			body = append(body, r.hdr...)
		}
		body = append(body, r.msg...)
		rl := uint32(22 + len(body) + 8)
		hdr := make([]byte, 22)
		l := rl
		if r.hasHeader {
			l |= 1 << 31
		}
		le.PutUint32(hdr, l)
		le.PutUint64(hdr[4:], r.seq)
		le.PutUint64(hdr[12:], r.ts)
		le.PutUint16(hdr[20:], uint16(len(r.subj)))
		sum := r.checksum
		if fix {
			hh, err := highwayhash.New64(key[:])
			if err != nil {
				t.Fatal(err)
			}
			hh.Write(hdr[4:20])
			hh.Write([]byte(r.subj))
			if r.hasHeader {
				hh.Write(r.hdr)
			}
			hh.Write(r.msg)
			sum = hh.Sum(nil)
		}
		out = append(append(append(out, hdr...), body...), sum...)
	}
	if err := os.WriteFile(path, out, 0o640); err != nil {
		t.Fatal(err)
	}
	// Without the index the server rebuilds the stream's state from the
	// blocks, as after a crash.
	for _, f := range []string{"index.db"} {
		_ = os.Remove(filepath.Join(msgsDir(dir), f))
	}
}

// seqOfType is the sequence of the n-th record (1-based) whose event type
// is typ.
func seqOfType(t *testing.T, recs []fsRecord, typ string, n int) int {
	t.Helper()
	for i, r := range recs {
		env, err := events.Unmarshal(r.msg)
		if err == nil && env.Type == typ {
			if n--; n == 0 {
				return i
			}
		}
	}
	t.Fatalf("no %s number %d", typ, n)
	return 0
}

// runVerify runs "tokenledger verify" with args and returns its exit
// code and its --json report.
func runVerify(t *testing.T, args ...string) (int, map[string]any) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" },
		ReadDataDir: func(ctx context.Context, dir string, setup func(cli.DataDir) error, fn func(uint64, []byte) error) (cli.DataDir, error) {
			conv := func(r StoredRecords) cli.DataDir {
				return cli.DataDir{LastSeq: r.LastSeq, KeyFile: r.KeyFile, KeptFile: r.KeptFile}
			}
			r, err := ReadDataDir(ctx, dir, func(r StoredRecords) error { return setup(conv(r)) }, fn)
			return conv(r), err
		}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := cli.Run(ctx, append([]string{"verify", "--json"}, args...), env)
	var rep map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil && code != cli.ExitError {
		t.Fatalf("verify exit %d, output %q, stderr %q", code, stdout.String(), stderr.String())
	}
	if code == cli.ExitError {
		t.Logf("verify stderr: %s", stderr.String())
	}
	return code, rep
}

// tokenLife appends a backend token's creation and revocation.
func tokenLife(t *testing.T, m *Main, name string) {
	t.Helper()
	do := func(method, path, body string) []byte {
		req, _ := http.NewRequest(method, m.URL()+path, strings.NewReader(body))
		req.Header.Set("Authorization", testAdmin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return b
	}
	b := do("POST", "/api/admin/api-tokens", `{"tokenName":"`+name+`","type":"backend","environment":"production","projects":["default"]}`)
	var created struct{ Secret string }
	_ = json.Unmarshal(b, &created)
	do("DELETE", "/api/admin/api-tokens/"+created.Secret, "")
}

// stoppedLedger makes a data dir as an honest ledger leaves it: events,
// checkpoints every 4 events, a final checkpoint at shutdown.
func stoppedLedger(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	m, _ := startLedger(t, dir, 4, func(c *Config) { c.CheckpointInterval = 20 * time.Millisecond })
	for i := range 3 {
		tokenLife(t, m, fmt.Sprint("tok-", i))
		last, _ := m.Store.LastSequence(context.Background())
		waitCheckpoint(t, m, int64(last))
	}
	tokenLife(t, m, "tok-last")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startFails reports whether the service refuses to come up on dir.
func startFails(t *testing.T, dir string) error {
	t.Helper()
	env := map[string]string{"INIT_ADMIN_API_TOKENS": testAdmin}
	m := NewMain(Config{Listen: "127.0.0.1:0", DataDir: dir, NATSListen: "off", ExpiryEvery: time.Hour, Replicas: 1, NoSync: true,
		Getenv: func(k string) string { return env[k] }, LogOutput: io.Discard})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := m.Run(ctx)
	if err == nil {
		// A start from the snapshot is ready before the whole-log check
		// ends: its finding stops the projections.
		err = m.check.Wait(ctx)
	}
	if err == nil && m.Runner != nil {
		err = m.Runner.Err() // a tampered stream: Run serves the probes only
	}
	_ = m.Close()
	return err
}

func TestVerifyNamesEachTamperingOfAStoppedDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the service many times")
	}
	tests := []struct {
		name string
		// tamper edits the records of the block and returns the sequence
		// verify must name, and whether the checksums are fixed.
		tamper   func(t *testing.T, recs []fsRecord) ([]fsRecord, int, bool)
		wantKind string
	}{
		{"byte_edit_with_the_checksum_fixed", func(t *testing.T, recs []fsRecord) ([]fsRecord, int, bool) {
			i := seqOfType(t, recs, events.TypeTokenRevoked, 2)
			recs[i].msg = bytes.Replace(recs[i].msg, []byte(`"reason":"`), []byte(`"reason":"X`), 1) // a longer reason
			return recs, i + 1, true
		}, "byte-edit"},
		{"deletion_of_a_record", func(t *testing.T, recs []fsRecord) ([]fsRecord, int, bool) {
			i := seqOfType(t, recs, events.TypeTokenRevoked, 2)
			return append(recs[:i:i], recs[i+1:]...), i + 1, true
		}, "deletion"},
		{"reorder_of_a_tokens_events", func(t *testing.T, recs []fsRecord) ([]fsRecord, int, bool) {
			a, b := seqOfType(t, recs, events.TypeTokenCreated, 2), seqOfType(t, recs, events.TypeTokenRevoked, 2)
			for _, f := range []func(r *fsRecord) *[]byte{func(r *fsRecord) *[]byte { return &r.msg }, func(r *fsRecord) *[]byte { return &r.hdr }} {
				pa, pb := f(&recs[a]), f(&recs[b])
				*pa, *pb = *pb, *pa
			}
			recs[a].subj, recs[b].subj = recs[b].subj, recs[a].subj
			return recs, a + 1, true
		}, "reorder"},
		{"insertion_before_a_checkpoint_renumbered", func(t *testing.T, recs []fsRecord) ([]fsRecord, int, bool) {
			c := seqOfType(t, recs, events.TypeCheckpoint, 2)
			forged := recs[seqOfType(t, recs, events.TypeTokenCreated, 1)]
			forged.msg = forgedAdminToken(t)
			out := append(append(append([]fsRecord{}, recs[:c]...), forged), recs[c:]...)
			for i := range out {
				out[i].seq = uint64(i + 1)
			}
			return out, c + 1, true
		}, "forgery"}, // unsigned, after signed events
		{"byte_flip_that_nats_finds_corrupt", func(t *testing.T, recs []fsRecord) ([]fsRecord, int, bool) {
			i := seqOfType(t, recs, events.TypeTokenRevoked, 2)
			recs[i].msg = bytes.Replace(recs[i].msg, []byte(`"reason":"`), []byte(`"reason":"X`), 1)
			return recs, i + 1, false // the checksum no longer matches
		}, "truncation"},
		{"truncation_of_the_tail", func(t *testing.T, recs []fsRecord) ([]fsRecord, int, bool) {
			i := seqOfType(t, recs, events.TypeTokenCreated, 3)
			return recs[:i], i + 1, true
		}, "truncation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := stoppedLedger(t)
			if code, rep := runVerify(t, "--data-dir", dir); code != 0 || rep["intact"] != true {
				t.Fatalf("before tampering: exit %d, %v", code, rep)
			}
			path, index, recs := readBlock(t, dir)
			recs, seq, fix := tt.tamper(t, recs)
			writeBlock(t, dir, path, index, recs, fix)
			code, rep := runVerify(t, "--data-dir", dir)
			if code != cli.ExitTampered || rep["kind"] != tt.wantKind || rep["seq"] != float64(seq) {
				t.Fatalf("verify: exit %d, %v at %v (%v); want exit %d, %s at %d", code, rep["kind"], rep["seq"], rep["detail"], cli.ExitTampered, tt.wantKind, seq)
			}
			if err := startFails(t, dir); err == nil {
				t.Fatal("the service started on a tampered data dir")
			}
		})
	}
}

// forgedAdminToken is a sealed token.created of an admin token that the
// ledger never wrote, made with the project's own events package.
func forgedAdminToken(t *testing.T) []byte {
	env, err := events.New("01JFORGED00000000000000000", "0193a5b2-0000-7000-8000-0000000000ff", events.TokenCreated{
		TokenType: "admin", Name: "backdoor", Environment: "*", AllProjects: true, Verifier: strings.Repeat("ab", 32)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	env.Actor = events.System
	if err := env.Seal(); err != nil {
		t.Fatal(err)
	}
	b, _ := events.Marshal(&env)
	return b
}
