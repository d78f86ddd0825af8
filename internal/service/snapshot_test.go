package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/projections/auditlog"
	"github.com/tokenledger/tokenledger/projections/directory"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// snapshotsOff starts a ledger that neither reads nor writes snapshots.
func snapshotsOff(c *Config) { c.SnapshotFile = SnapshotOff }

// call sends a JSON request with the test admin's credential and returns
// the status and the decoded answer.
func call(t *testing.T, m *Main, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, m.URL()+path, r)
	req.Header.Set("Authorization", testAdmin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// tokenLifecycles creates n tokens through the API and revokes every
// third; it returns the secrets of the revoked ones and of the others.
func tokenLifecycles(t *testing.T, m *Main, n int) (revoked, live []string) {
	t.Helper()
	for i := range n {
		st, out := call(t, m, "POST", "/api/admin/api-tokens", map[string]any{"tokenName": fmt.Sprint("t-", i), "type": "backend", "environment": "development"})
		if st != http.StatusCreated {
			t.Fatalf("create token: %d %v", st, out)
		}
		secret := out["secret"].(string)
		if i%3 != 0 {
			live = append(live, secret)
			continue
		}
		tok, _ := m.Tokens.Lookup(secret)
		if st, out := call(t, m, "DELETE", "/api/admin/api-tokens/"+tok.ID, nil); st != http.StatusOK {
			t.Fatalf("revoke: %d %v", st, out)
		}
		revoked = append(revoked, secret)
	}
	return revoked, live
}

// projectionState is what a restart must reproduce: the token set's and
// the directory's digests, audit query answers and the Merkle root.
type projectionState struct {
	tokens, dir string
	audit       [][]uint64
	root        string
	last        uint64
}

var stateQueries = []auditlog.Query{{}, {Type: "token."}, {Type: events.TypeTokenRevoked, Desc: true}, {Kind: events.KindProject},
	{ActorID: "system"}, {Environment: "development"}}

func stateOf(t *testing.T, tokens *tokenset.Set, dir *directory.Directory, audit *auditlog.Log, in *integrity.Log) projectionState {
	t.Helper()
	s := projectionState{tokens: tokens.Digest(), dir: dir.Digest(), last: in.LastApplied()}
	for _, q := range stateQueries {
		q.Limit = 1000
		p, err := audit.Page(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		got := p.Entries
		var seqs []uint64
		for _, e := range got {
			seqs = append(seqs, e.Seq)
		}
		s.audit = append(s.audit, seqs)
	}
	root, err := in.Tree().Root(int64(s.last))
	if err != nil {
		t.Fatal(err)
	}
	s.root = fmt.Sprintf("%x", root)
	return s
}

// replayedState is the state a full replay of m's stream builds, into
// fresh projections beside the running service's.
func replayedState(t *testing.T, m *Main) projectionState {
	t.Helper()
	if err := m.catchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	last := m.Runner.LastApplied()
	tokens, dir, audit, in := tokenset.New(), directory.New(), auditlog.New(m.Store), integrity.NewLog()
	err := m.Store.Replay(context.Background(), 1, last, func(e events.Envelope) error {
		for _, p := range []interface{ Apply(events.Envelope) error }{tokens, dir, audit, in} {
			if err := p.Apply(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return stateOf(t, tokens, dir, audit, in)
}

func (m *Main) state(t *testing.T) projectionState {
	t.Helper()
	if err := m.catchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	return stateOf(t, m.Tokens, m.Dir, m.Audit, m.Integrity)
}

func sameState(t *testing.T, what string, got, want projectionState) {
	t.Helper()
	if got.tokens != want.tokens || got.dir != want.dir || got.root != want.root || got.last != want.last {
		t.Fatalf("%s: state at %d (root %s) differs from the full replay's at %d (root %s); tokens equal %v, directory equal %v",
			what, got.last, got.root, want.last, want.root, got.tokens == want.tokens, got.dir == want.dir)
	}
	for i := range got.audit {
		if !slices.Equal(got.audit[i], want.audit[i]) {
			t.Fatalf("%s: audit query %+v: %v, want %v", what, stateQueries[i], got.audit[i], want.audit[i])
		}
	}
}

// replayLine is the replay's start line, to learn where the replay began.
func replayLine(t *testing.T, logs string) map[string]any {
	t.Helper()
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"msg":"replay started"`) {
			var out map[string]any
			if err := json.Unmarshal([]byte(line), &out); err != nil {
				t.Fatal(err)
			}
			return out
		}
	}
	t.Fatalf("no replay line in\n%s", logs)
	return nil
}

// TestRestartFromSnapshotMatchesAFullReplay: a clean shutdown writes a
// snapshot; the next start restores it, replays only the events after it
// and has the state (token set, directory, audit answers, Merkle root) a
// full replay of the same stream builds, whether the snapshot is at the
// stream's end or events came after it.
func TestRestartFromSnapshotMatchesAFullReplay(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	m, _ := startLedger(t, dir, 7)
	createProjects(t, m, "p", 3)
	revoked, live := tokenLifecycles(t, m, 12)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir + ".snapshot"); err != nil {
		t.Fatalf("no snapshot after a clean shutdown: %v", err)
	}

	m, logs := startLedger(t, dir, 7)
	if !strings.Contains(logs.String(), "projections restored from their snapshot") {
		t.Fatalf("the snapshot was not restored:\n%s", logs)
	}
	if n := replayLine(t, logs.String())["events_to_apply"].(float64); n != 0 {
		t.Fatalf("a start from the snapshot of the whole stream replayed %v events", n)
	}
	sameState(t, "restored at the stream's end", m.state(t), replayedState(t, m))
	for _, s := range revoked {
		if _, st := m.Tokens.Verify(s); st != tokenset.Revoked {
			t.Fatalf("a revoked token verifies as %v after the restore", st)
		}
	}
	for _, s := range live {
		if _, st := m.Tokens.Verify(s); st != tokenset.Valid {
			t.Fatalf("a live token verifies as %v after the restore", st)
		}
	}
	_ = m.Close()

	// Events after the snapshot (written by a start that keeps none).
	m, _ = startLedger(t, dir, 7, snapshotsOff)
	createProjects(t, m, "q", 2)
	tokenLifecycles(t, m, 5)
	_ = m.Close()
	m, logs = startLedger(t, dir, 7)
	if !strings.Contains(logs.String(), "projections restored from their snapshot") {
		t.Fatalf("the snapshot was not restored:\n%s", logs)
	}
	if n := replayLine(t, logs.String())["events_to_apply"].(float64); n < 7 {
		t.Fatalf("the start replayed %v events, want those after the snapshot", n)
	}
	sameState(t, "restored, then the later events replayed", m.state(t), replayedState(t, m))
}

// copyDir copies a stopped ledger's data dir.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o750)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotThatDoesNotMatchIsDiscarded: a snapshot with a flipped byte,
// of an unknown format version, from another ledger, standing beyond the
// stream (a data dir restored from an older backup), or whose event at its
// sequence is not the stream's (another ledger sharing the key) is
// discarded with a log line naming why, and the start replays the whole
// stream into the state a full replay builds.
func TestSnapshotThatDoesNotMatchIsDiscarded(t *testing.T) {
	root := t.TempDir()
	// A: the ledger under test, with a backup of its data dir taken
	// before its last events.
	a := filepath.Join(root, "a")
	m, _ := startLedger(t, a, 5)
	tokenLifecycles(t, m, 6)
	_ = m.Close()
	copyDir(t, a, filepath.Join(root, "a-backup"))
	m, _ = startLedger(t, a, 5)
	tokenLifecycles(t, m, 6)
	_ = m.Close()
	genuine, err := os.ReadFile(a + ".snapshot")
	if err != nil {
		t.Fatal(err)
	}
	// B: another ledger with its own key.
	b := filepath.Join(root, "b")
	m, _ = startLedger(t, b, 5)
	tokenLifecycles(t, m, 3)
	_ = m.Close()
	foreign, err := os.ReadFile(b + ".snapshot")
	if err != nil {
		t.Fatal(err)
	}
	// C: a ledger with A's key but its own, longer history.
	c := filepath.Join(root, "c")
	withAKey := func(cfg *Config) { cfg.SigningKey = ledgerkey.DefaultFile(a) }
	m, _ = startLedger(t, c, 5, withAKey)
	createProjects(t, m, "c", 3)
	tokenLifecycles(t, m, 24)
	_ = m.Close()

	flipped := bytes.Clone(genuine)
	flipped[len(flipped)/2] ^= 0x20
	future := bytes.Clone(genuine)
	future[len(snapshotMagic)] = snapshotFormat + 1
	tests := []struct {
		name    string
		dataDir string
		file    []byte
		reason  string
	}{
		{"flipped_byte", a, flipped, "checksum mismatch"},
		{"unknown_format_version", a, future, "format version 2 is unknown"},
		{"from_another_ledger", a, foreign, "MAC does not verify"},
		{"beyond_the_stream", filepath.Join(root, "a-backup"), genuine, "beyond the stream"},
		{"another_event_at_its_sequence", c, genuine, "is not the one the snapshot names"},
		{"not_a_snapshot", a, []byte("hello"), "not a snapshot file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			copyDir(t, tt.dataDir, dir)
			if err := os.WriteFile(dir+".snapshot", tt.file, 0o600); err != nil {
				t.Fatal(err)
			}
			m, logs := startLedger(t, dir, 5, withAKey) // every data dir here is A's or signed with A's key
			if !strings.Contains(logs.String(), "projection snapshot discarded") || !strings.Contains(logs.String(), tt.reason) {
				t.Fatalf("no discard line naming %q:\n%s", tt.reason, logs)
			}
			if n := replayLine(t, logs.String())["from_seq"].(float64); n != 1 {
				t.Fatalf("the replay began at %v, want 1", n)
			}
			sameState(t, tt.name, m.state(t), replayedState(t, m))
		})
	}
}

// TestForgedSnapshotCannotResurrectARevokedToken: someone who can write
// beside the data dir replaces the token set in the snapshot with one in
// which a revoked token is live and fixes the checksum. Without the
// signing key the MAC does not verify: the snapshot is discarded and the
// token stays revoked. (With the ledger's key the same file is accepted,
// which shows the forgery itself is sound: the MAC is what stops it.)
func TestForgedSnapshotCannotResurrectARevokedToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	m, _ := startLedger(t, dir, 5)
	revoked, _ := tokenLifecycles(t, m, 4)
	victim, _ := m.Tokens.Lookup(revoked[0])
	// The token set as it would be had the revocation never happened, at
	// the stream's end (a checkpoint now: the one at shutdown adds none).
	if err := m.checkpoints.checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.catchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	forgedSet := tokenset.New()
	last := m.Runner.LastApplied()
	err := m.Store.Replay(context.Background(), 1, last, func(e events.Envelope) error {
		if e.Type == events.TypeTokenRevoked && e.AggregateID == victim.ID {
			e = events.Envelope{Sequence: e.Sequence, ID: e.ID, Type: "forged.nothing", AggregateKind: "forged", AggregateID: "x"}
		}
		return forgedSet.Apply(e)
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = m.Close()
	genuine, err := os.ReadFile(dir + ".snapshot")
	if err != nil {
		t.Fatal(err)
	}
	realKey, err := ledgerkey.Load(ledgerkey.DefaultFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	realMAC, _ := realKey.DeriveKey(snapshotMACInfo)
	h, err := decodeSnapshot(genuine, realMAC)
	if err != nil {
		t.Fatal(err)
	}
	if h.seq != forgedSet.LastApplied() {
		// The forged set must stand where the snapshot does.
		t.Fatalf("snapshot at %d, forged set at %d", h.seq, forgedSet.LastApplied())
	}
	h.sections[0] = forgedSet.AppendSnapshot(nil)
	attacker, _ := ledgerkey.Generate(ledgerkey.DefaultName)
	attackerMAC, _ := attacker.DeriveKey(snapshotMACInfo)

	for _, tt := range []struct {
		name    string
		mac     []byte
		want    tokenset.Status
		discard bool
	}{
		{"macd_with_another_key", attackerMAC, tokenset.Revoked, true},
		{"macd_with_the_ledgers_key_control", realMAC, tokenset.Valid, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(dir+".snapshot", encodeSnapshot(h, tt.mac), 0o600); err != nil {
				t.Fatal(err)
			}
			m, logs := startLedger(t, dir, 5)
			discarded := strings.Contains(logs.String(), "projection snapshot discarded")
			if _, st := m.Tokens.Verify(revoked[0]); st != tt.want || discarded != tt.discard {
				t.Fatalf("the revoked token verifies as %v (want %v), snapshot discarded %v:\n%s", st, tt.want, discarded, logs)
			}
			_ = m.Close()
		})
	}
}

// TestSnapshotIsWrittenEveryNEventsAndNeverWhenOff: with --snapshot-every
// 5 a running ledger writes a snapshot once 5 events were applied (no
// shutdown needed), one that authenticates and stands past them; with
// --snapshot-file off no file appears, even at shutdown.
func TestSnapshotIsWrittenEveryNEventsAndNeverWhenOff(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	m, _ := startLedger(t, dir, 1000, func(c *Config) { c.SnapshotEvery = 5 })
	_, err := os.Stat(dir + ".snapshot")
	if err == nil {
		t.Fatal("a snapshot before any event was applied after the start")
	}
	tokenLifecycles(t, m, 6)
	want := m.Runner.LastApplied()
	key, err := ledgerkey.Load(ledgerkey.DefaultFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	mac, _ := key.DeriveKey(snapshotMACInfo)
	var h snapHeader
	for i := 0; i < 200; i++ { // up to 10 s
		if b, err := os.ReadFile(dir + ".snapshot"); err == nil {
			if h, err = decodeSnapshot(b, mac); err == nil && h.seq >= want {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if h.seq < want {
		t.Fatalf("no snapshot at or past %d while running (last at %d)", want, h.seq)
	}

	off := filepath.Join(t.TempDir(), "data")
	m, _ = startLedger(t, off, 1000, func(c *Config) { c.SnapshotEvery, c.SnapshotFile = 1, SnapshotOff })
	tokenLifecycles(t, m, 3)
	_ = m.Close()
	if _, err := os.Stat(off + ".snapshot"); err == nil {
		t.Fatal("a snapshot was written with --snapshot-file off")
	}
}
